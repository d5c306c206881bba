"""``agenttrace watch --phoenix-project``: one pass against the real Phoenix of the test session."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from agenttrace.cli import main
from agenttrace.testing import ScriptedChatModel
from alert_receivers import HookReceiver
from conftest import build_agent, support_reply
from test_drift_phoenix import export, status_only_reply

pytestmark = pytest.mark.phoenix


def test_a_pass_on_a_phoenix_project_notifies_with_a_link_to_the_annotated_runs(phoenix_server, phoenix_store,
                                                                                  tmp_path):
    before = build_agent(ScriptedChatModel(replies=[support_reply], model="gpt-4o", response_model="gpt-4o-2024-08-06",
                                           system_fingerprint="fp_abc"))
    after = build_agent(ScriptedChatModel(replies=[status_only_reply], model="gpt-4o",
                                          response_model="gpt-4o-2024-11-20", system_fingerprint="fp_new"))
    meta = {"segment": "returns"}
    plan = [(20 - day, before, meta) for day in range(14)] + [(5 - day - k / 4, after, meta) for day in range(4)
                                                              for k in range(3)]
    project, live = export(phoenix_server, phoenix_store, plan)
    alerts = tmp_path / "alerts.sqlite"
    with HookReceiver() as receiver:
        result = CliRunner().invoke(main, ["watch", "--once", "--store", str(tmp_path / "none"), "--phoenix-project",
                                           project, "--phoenix-url", phoenix_server.url, "--alert-store", str(alerts),
                                           "--webhook", receiver.url, "--baseline-days", "14", "--min-rows", "5"],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert f"+{len(live)} runs," in result.stdout  # profiled from Phoenix: there is no store
        assert not (tmp_path / "none").exists()
        opened = [b["incident"] for b in receiver.bodies() if b["event"] == "opened"]
    cause = next(i for i in opened if i["key"].startswith("model_version_change|"))
    assert "gpt-4o-2024-11-20" in cause["title"]
    link = urlsplit(cause["link"])
    assert link.path.startswith("/projects/") and link.path.endswith("/spans")
    condition = parse_qs(link.query)["spanFilterCondition"][0]
    assert "annotations['model_version_change'].label == 'alert'" in condition
    # the link's filter matches the runs the new version answered: they were annotated by the pass
    annotated = {a["span_id"] for a in phoenix_store.span_annotations(project, [t.span_id for t in live])
                 if a["name"] == "model_version_change"}
    assert annotated == {t.span_id for t in live if t.features["response_model"] == "gpt-4o-2024-11-20"}
