"""What a golden suite keeps of one traced agent run: its input, final output, tool calls (with
arguments), route path, latency, tokens and labels, from the run's spans (a Phoenix read-back or
the SDK's finished spans, both as :class:`agenttrace.trajectory.SpanRecord`).

Tool arguments come from the model's tool calls (``llm.output_messages.*.tool_call.function.arguments``,
matched to the tool span by ``gen_ai.tool.call.id``), else from the tool span's own
``gen_ai.tool.call.arguments`` / ``input.value`` when it is a JSON object. Input and output are the
run root's ``input.value`` / ``output.value``: they exist only when content capture is on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from agenttrace import semconv as sc
from agenttrace.trajectory import SpanRecord, _metadata, run_subtrees

_CALL = re.compile(r"^llm\.output_messages\.(\d+)\.message\.tool_calls\.(\d+)\.tool_call\.(id|function\.name|function\.arguments)$")


@dataclass
class RunFacts:
    trace_id: str
    span_id: str
    agent: str
    end_time: float
    input: Any = None               # None: not captured
    output: Optional[str] = None
    tool_calls: list[dict] = field(default_factory=list)
    route_path: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    total_tokens: int = 0
    metadata: dict = field(default_factory=dict)
    model: Optional[str] = None
    error: Optional[str] = None

    @property
    def tool_sequence(self) -> str:
        return ">".join(c["name"] for c in self.tool_calls)


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str):
        s = value.strip()
        if s[:1] in "{[":
            try:
                return json.loads(s)
            except ValueError:
                return value
    return value


def _model_calls(spans: Sequence[SpanRecord]) -> dict[str, dict]:
    """Tool-call id → {"name", "args"} from the chat spans' output messages."""
    found: dict[tuple[str, str, str], dict] = {}
    for s in spans:
        for key, value in s.attributes.items():
            m = _CALL.match(key)
            if m:
                found.setdefault((s.span_id, m.group(1), m.group(2)), {})[m.group(3)] = value
    out: dict[str, dict] = {}
    for call in found.values():
        if call.get("id"):
            args = _json_or_text(call.get("function.arguments") or "{}")
            out[str(call["id"])] = {"name": call.get("function.name"), "args": args if isinstance(args, dict) else {}}
    return out


def run_facts(root: SpanRecord, spans: Sequence[SpanRecord]) -> RunFacts:
    """The facts of the run rooted at ``root``; ``spans`` are all spans of the run (root included)."""
    ordered = sorted(spans, key=lambda s: (s.start_ns, s.end_ns))
    calls_by_id = _model_calls(ordered)
    tool_calls, route, tokens, models = [], [], 0, []
    for s in ordered:
        a = s.attributes
        op = a.get(sc.OPERATION)
        if op == sc.OP_EXECUTE_TOOL:
            name = str(a.get(sc.TOOL_NAME) or s.name)
            call = calls_by_id.get(str(a.get(sc.TOOL_CALL_ID) or ""))
            args = call["args"] if call else _json_or_text(a.get(sc.TOOL_CALL_ARGUMENTS) or a.get(sc.OI_INPUT_VALUE))
            tool_calls.append({"name": name, "args": args if isinstance(args, dict) else {}})
        elif op in (sc.OP_CHAT, sc.OP_TEXT_COMPLETION):
            tokens += int(a.get(sc.USAGE_INPUT_TOKENS) or 0) + int(a.get(sc.USAGE_OUTPUT_TOKENS) or 0)
            if a.get(sc.REQUEST_MODEL):
                models.append(str(a[sc.REQUEST_MODEL]))
        if sc.ROUTE_TARGET in a:
            route.append(str(a[sc.ROUTE_TARGET]))
    ra = root.attributes
    output = ra.get(sc.OI_OUTPUT_VALUE)
    return RunFacts(
        trace_id=root.trace_id, span_id=root.span_id,
        agent=str(ra.get(sc.AGENT_NAME) or ra.get(sc.WORKFLOW_NAME) or root.name),
        end_time=root.end_ns / 1e9, input=_json_or_text(ra.get(sc.OI_INPUT_VALUE)),
        output=None if output is None else str(output), tool_calls=tool_calls, route_path=route,
        latency_ms=(root.end_ns - root.start_ns) / 1e6, total_tokens=tokens, metadata=_metadata(ra),
        model="|".join(sorted(set(models))) or None,
        error=str(ra.get(sc.ERROR_TYPE) or "error") if root.error else None)


def runs_of(records: Sequence[SpanRecord]) -> list[RunFacts]:
    """One :class:`RunFacts` per run root among ``records`` (the spans of one or more traces)."""
    return sorted((run_facts(root, subtree) for root, subtree in run_subtrees(records)), key=lambda f: f.end_time)
