"""Golden suites stored as Phoenix datasets (through phoenix-client), and the pick from a project's runs."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Optional, Sequence

import httpx

from ..server import PhoenixError
from .examples import ExampleError, GoldenExample, check_unique, from_dataset_example
from .select import Candidate, pick, ratings, read_runs
from .spans import RunFacts

CAPTURE_HINT = ("content capture is off: the runs' input/output were not recorded; trace the agent with "
                "configure(capture_content=True) or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true")


def example_from_run(facts: RunFacts, ident: str) -> GoldenExample:
    if facts.input is None or facts.output is None:
        raise ExampleError(f"run {facts.trace_id} ({facts.agent}) has no captured input/output: {CAPTURE_HINT}")
    meta = {k: v for k, v in facts.metadata.items() if isinstance(v, (str, int, float, bool, list))}
    meta.update({"agent": facts.agent, "source_trace_id": facts.trace_id, "source_span_id": facts.span_id})
    if facts.model:
        meta.setdefault("model", facts.model)
    return GoldenExample(id=ident, input=facts.input, reference_output=facts.output,
                         tool_calls=[dict(c) for c in facts.tool_calls], route_path=list(facts.route_path), metadata=meta)


def from_phoenix(store: Any, project: str, *, size: int = 24, since: Optional[datetime] = None,
                 until: Optional[datetime] = None, agent: Optional[str] = None) -> tuple[list[GoldenExample], list[Candidate]]:
    """The representative runs of ``project`` as examples (and the candidates picked)."""
    runs = read_runs(store, project, since=since, until=until, agent=agent)
    if not runs:
        raise ExampleError(f"no agent runs in Phoenix project {project!r}"
                           + (" in the time range" if since or until else "") + (f" of agent {agent!r}" if agent else ""))
    rated = ratings(store, project, runs)
    chosen = pick([Candidate(f, rated.get(f.span_id, 0)) for f in runs], size)
    numbers: Counter = Counter()
    examples = []
    for c in chosen:
        numbers[c.facts.agent] += 1
        examples.append(example_from_run(c.facts, f"{c.facts.agent}-{numbers[c.facts.agent]:03d}"))
    return examples, chosen


def create_dataset(client: Any, name: str, examples: Sequence[GoldenExample], description: Optional[str] = None) -> Any:
    """Store ``examples`` as the Phoenix dataset ``name``; returns phoenix-client's Dataset."""
    check_unique(examples, f"suite {name!r}")
    rows = [e.dataset_row() for e in examples]
    if _exists(client, name):  # Phoenix would add a new version to it
        raise PhoenixError(f"a Phoenix dataset named {name!r} already exists: choose another suite name")
    try:
        return client.datasets.create_dataset(name=name, inputs=[r[0] for r in rows], outputs=[r[1] for r in rows],
                                              metadata=[r[2] for r in rows], dataset_description=description)
    except httpx.HTTPStatusError as err:
        if err.response.status_code == 409:
            raise PhoenixError(f"a Phoenix dataset named {name!r} already exists: choose another suite name") from None
        raise PhoenixError(f"creating dataset {name!r} failed: HTTP {err.response.status_code}: "
                           f"{err.response.text.strip()[:200]}") from None
    except httpx.HTTPError as err:
        raise PhoenixError(f"cannot reach Phoenix: {err}") from None


def _exists(client: Any, name: str) -> bool:
    try:
        client.datasets.get_dataset(dataset=name)
    except ValueError:
        return False
    except httpx.HTTPStatusError as err:
        if err.response.status_code == 404:
            return False
        raise PhoenixError(f"reading dataset {name!r} failed: HTTP {err.response.status_code}") from None
    except httpx.HTTPError as err:
        raise PhoenixError(f"cannot reach Phoenix: {err}") from None
    return True


def load_dataset(client: Any, name: str) -> tuple[Any, list[GoldenExample]]:
    """The Phoenix dataset ``name`` (latest version) and its examples."""
    try:
        dataset = client.datasets.get_dataset(dataset=name)
    except ValueError:
        raise PhoenixError(f"no Phoenix dataset named {name!r} (create it with agenttrace golden create)") from None
    except httpx.HTTPStatusError as err:
        if err.response.status_code == 404:
            raise PhoenixError(f"no Phoenix dataset named {name!r} (create it with agenttrace golden create)") from None
        raise PhoenixError(f"reading dataset {name!r} failed: HTTP {err.response.status_code}") from None
    except httpx.HTTPError as err:
        raise PhoenixError(f"cannot reach Phoenix: {err}") from None
    return dataset, [from_dataset_example(e) for e in dataset.examples]


def summary(examples: Sequence[GoldenExample]) -> list[str]:
    """Lines (≤ 80 columns): examples per stratum, then the routes and tool sequences covered."""
    strata = Counter((e.metadata.get("agent", "-"), str(e.metadata.get("prompt_template", "-")),
                      str(e.metadata.get("segment", "-"))) for e in examples)
    lines = [f"{'agent':<24} {'template':<20} {'segment':<22} {'n':>4}"]
    for (agent, template, segment), n in sorted(strata.items()):
        lines.append(f"{_cut(agent, 24):<24} {_cut(template, 20):<20} {_cut(segment, 22):<22} {n:>4}")
    routes = sorted({" > ".join(e.route_path) or "(none)" for e in examples})
    tools = sorted({" > ".join(c["name"] for c in e.tool_calls) or "(none)" for e in examples})
    lines.append(f"{len(examples)} examples, {len(strata)} strata, {len(routes)} route paths, "
                 f"{len(tools)} tool sequences")
    lines += [_cut(f"  route: {r}", 80) for r in routes] + [_cut(f"  tools: {t}", 80) for t in tools]
    return lines


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
