"""A project name is one URL path segment on a real Phoenix: it can never address another project.

``'../../../v1/projects/<victim>?x='`` given as the project once read the victim's spans (the HTTP
client resolves the dot segments, and ``?`` starts a query that swallows the rest of the path).
"""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner
from langchain_core.prompts import ChatPromptTemplate

import agenttrace
from agenttrace.cli import main
from agenttrace.testing import ScriptedChatModel
from agenttrace_phoenix import PhoenixError


def _export(phoenix_server, project: str) -> None:
    telemetry = agenttrace.configure(project=project, endpoint=phoenix_server.otlp_http_endpoint, set_global=False)
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | ScriptedChatModel(replies=["secret answer"])
    chain.invoke({"q": "the victim's question"}, config={"callbacks": [telemetry.callback_handler]})
    assert telemetry.flush(timeout=10)
    telemetry.shutdown()


@pytest.fixture(scope="module")
def victim(phoenix_server, phoenix_store):
    """A project with one run (3 spans) and an annotation on its trace."""
    project = f"victim-{uuid.uuid4().hex[:8]}"
    _export(phoenix_server, project)
    spans = phoenix_store.wait_for_spans(project, 3, timeout=30)
    phoenix_store.annotate_trace(spans[0]["context"]["trace_id"], "quality", label="private")
    return project, spans


ATTACKS = ["../../../v1/projects/{victim}?x=", "../{victim}", "{victim}/..", "{victim}?x=", "{victim}#x", "..", ".", ""]


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_project_name_cannot_read_another_project(victim, phoenix_store, attack):
    project, spans = victim
    name = attack.format(victim=project)
    trace_id, span_id = spans[0]["context"]["trace_id"], spans[0]["context"]["span_id"]
    reads = {
        "spans": lambda: phoenix_store.spans(name),
        "iter_spans": lambda: list(phoenix_store.iter_spans(name)),
        "span_annotations": lambda: phoenix_store.span_annotations(name, [span_id]),
        "trace_annotations": lambda: phoenix_store.trace_annotations(name, [trace_id]),
    }
    for what, read in reads.items():
        with pytest.raises(PhoenixError, match="project name"):
            leaked = read()
            pytest.fail(f"{what}({name!r}) returned {len(leaked)} item(s) of {project!r}")  # pragma: no cover


def test_names_with_url_characters_reach_their_own_project(phoenix_server, phoenix_store):
    """Percent signs, spaces, ``&``, ``=`` and non-ASCII are encoded, not taken as URL syntax."""
    project = f"support bot %41 & x=1 é {uuid.uuid4().hex[:6]}"
    _export(phoenix_server, project)
    spans = phoenix_store.wait_for_spans(project, 3, timeout=30)
    assert {s["name"] for s in spans} >= {"chat scripted-model"}
    assert len(list(phoenix_store.iter_spans(project))) == 3
    assert phoenix_store.trace_annotations(project, [spans[0]["context"]["trace_id"]]) == []


def test_drift_refuses_such_a_project_name_in_one_line(victim, phoenix_server, tmp_path):
    project, _ = victim
    result = CliRunner().invoke(main, ["drift", "--no-progress", "--no-reports", "--store", str(tmp_path / "none"),
                                       "--phoenix-project", f"../../../v1/projects/{project}?x=",
                                       "--phoenix-url", phoenix_server.url])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --phoenix-project:") and "'/'" in lines[0], lines
    assert "profiling the runs" not in result.stdout
