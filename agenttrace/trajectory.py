"""Trajectory features: one row per finished agent run (a root run and everything under it).

A :class:`Trajectory` is what drift detection profiles: how many steps the run took, which tools
it called in which order, which routes it took, how often it retried, what the metrics said
about its replies, how long it took and which model actually answered. Features are computed
from finished spans (:class:`SpanRecord`), so the same code works on live SDK spans (the
profiling worker) and on spans read back from Phoenix (``agenttrace drift --phoenix-project``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from . import semconv as sc

Value = Union[float, str, None]

# numeric features, logged as distributions (whylogs KLL sketches: KS / Hellinger drift, mean, stddev)
NUMERIC_FEATURES = (
    "step_count",          # graph node steps (chain steps for non-graph runs)
    "llm_calls",           # chat / text-completion calls, including failed attempts
    "tool_calls",
    "retry_count",         # retries beyond the first attempt, summed over retry wrappers
    "retry_exhausted",     # 1 when a retry wrapper gave up
    "error",               # 1 when the run failed
    "refusal_flagged",     # 1 when any reply was flagged for review as a refusal
    "latency_ms",
    "input_tokens",
    "output_tokens",
)
# evaluation scores (from the metric profiles; absent when the run was not scored)
SCORE_FEATURES = ("refusal_similarity", "relevance", "refusal_score", "hedging_score")  # plus any "<theme>_similarity"
JUDGE_FEATURE_PREFIX = "judge."  # plus each LLM judge's score, "judge.<name>"


def is_judge_score(feature: str) -> bool:
    """``judge.<name>``: a judge's numeric score (not its ``.label``/``.explanation``/``.error`` strings)."""
    return feature.startswith(JUDGE_FEATURE_PREFIX) and "." not in feature[len(JUDGE_FEATURE_PREFIX):]

# the detectors' scores (agenttrace-langkit): a run's refusal score is its most refusing reply's, its
# hedging score the mean over its replies (a drift toward hedging moves the mean)
DETECTOR_REDUCE = {"refusal_score": max, "hedging_score": lambda v: sum(v) / len(v)}
# categorical features, logged as frequent items (chi-squared drift, new-value detection)
CATEGORICAL_FEATURES = (
    "tool_sequence",       # "order_status>start_return", "" when no tool was called
    "route_path",          # "triage>cheap": the targets of the run's routing decisions, in order
    "error_type",          # "" when the run succeeded
    "request_model",       # the model asked for (an alias), "|"-joined when several
    "response_model",      # the model that answered
    "fingerprint",         # the provider's system fingerprint
    "model_version",       # "request → response (fingerprint)" per distinct pair, ";"-joined
)
# segment keys a row can be sliced by; "metadata.<key>" reads any metadata key of the run
DEFAULT_SEGMENT_KEYS = ("agent", "prompt_template", "segment", "client_category", "request_model")
# seconds per profile window: short enough for the fast rules of `agenttrace watch` to flag a change
# within the hour (docs/sequential-tests.md); the store's day rollups keep long-range reads cheap
DEFAULT_PROFILE_WINDOW = 600


@dataclass(frozen=True)
class SpanRecord:
    """The parts of a finished span that features are computed from."""

    span_id: str
    parent_id: Optional[str]
    trace_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    error: bool = False


@dataclass
class Trajectory:
    """One finished agent run: ``end_time`` (epoch seconds), its segment values and features."""

    trace_id: str
    span_id: str
    end_time: float
    segments: dict[str, str] = field(default_factory=dict)
    features: dict[str, Value] = field(default_factory=dict)

    def as_row(self) -> dict[str, Value]:
        """Features plus ``timestamp`` (end time, epoch seconds), the row drift profiles log."""
        return {**self.features, "timestamp": self.end_time}


def _metadata(attrs: Mapping[str, Any]) -> dict[str, Any]:
    raw = attrs.get(sc.OI_METADATA)
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    # Phoenix returns metadata flattened as "metadata.<key>" attributes
    return {k[len("metadata."):]: v for k, v in attrs.items() if k.startswith("metadata.")}


def segment_values(root: SpanRecord, keys: Sequence[str], models: Sequence[str]) -> dict[str, str]:
    """The root run's value for each segment key (keys without a value are left out)."""
    meta = _metadata(root.attributes)
    out: dict[str, str] = {}
    for key in keys:
        if key == "agent":
            value = root.attributes.get(sc.AGENT_NAME) or root.attributes.get(sc.WORKFLOW_NAME) or root.name
        elif key == "request_model":
            value = "|".join(models) if models else None
        else:
            value = meta.get(key.removeprefix("metadata."))
        if value not in (None, ""):
            out[key] = str(value)
    return out


def _ordered(spans: Iterable[SpanRecord]) -> list[SpanRecord]:
    return sorted(spans, key=lambda s: (s.start_ns, s.end_ns))


def features(root: SpanRecord, spans: Sequence[SpanRecord]) -> dict[str, Value]:
    """The trajectory features of ``root``'s run; ``spans`` are all spans of the run, root included."""
    ordered = _ordered(spans)
    attrs = [s.attributes for s in ordered]
    op = [a.get(sc.OPERATION) for a in attrs]
    llm = [s for s, o in zip(ordered, op) if o in (sc.OP_CHAT, sc.OP_TEXT_COMPLETION)]
    tools = [s for s, o in zip(ordered, op) if o == sc.OP_EXECUTE_TOOL]
    nodes = [s for s in ordered if sc.GRAPH_NODE in s.attributes]
    if not nodes:
        nodes = [s for s in ordered if s.parent_id == root.span_id]
    routes = [str(a[sc.ROUTE_TARGET]) for a in attrs if sc.ROUTE_TARGET in a]
    retries = sum(int(a.get(sc.RETRY_COUNT) or 0) for a in attrs)
    exhausted = any(a.get(sc.RETRY_EXHAUSTED) is True for a in attrs)

    def metric(name: str, reduce) -> Optional[float]:
        values = [float(a[sc.METRIC_PREFIX + name]) for a in (s.attributes for s in llm) if sc.METRIC_PREFIX + name in a]
        return reduce(values) if values else None

    score_names = {k[len(sc.METRIC_PREFIX):] for s in llm for k in s.attributes if k.startswith(sc.METRIC_PREFIX)}
    scores: dict[str, Value] = {}
    for name in sorted(score_names):
        if name == "relevance":
            scores[name] = metric(name, lambda v: sum(v) / len(v))
        elif name.endswith("_similarity"):
            scores[name] = metric(name, max)
        elif name in DETECTOR_REDUCE:
            scores[name] = metric(name, DETECTOR_REDUCE[name])
        elif is_judge_score(name):  # judge.<name>: the mean over the run's judged replies
            scores[name] = metric(name, lambda v: sum(v) / len(v))
    refusal_flagged = any(s.attributes.get(sc.REVIEW_REQUIRED) and "refusal" in str(s.attributes.get(sc.REVIEW_REASON, ""))
                          for s in llm)

    requested = sorted({str(s.attributes[sc.REQUEST_MODEL]) for s in llm if s.attributes.get(sc.REQUEST_MODEL)})
    answered = sorted({str(s.attributes[sc.RESPONSE_MODEL]) for s in llm if s.attributes.get(sc.RESPONSE_MODEL)})
    prints = sorted({str(s.attributes[sc.SYSTEM_FINGERPRINT]) for s in llm if s.attributes.get(sc.SYSTEM_FINGERPRINT)})
    pairs = sorted({f"{s.attributes.get(sc.REQUEST_MODEL)} → {s.attributes.get(sc.RESPONSE_MODEL)} ({s.attributes.get(sc.SYSTEM_FINGERPRINT) or '-'})"
                    for s in llm if s.attributes.get(sc.RESPONSE_MODEL)})
    error_type = str(root.attributes.get(sc.ERROR_TYPE) or "") if root.error else ""

    out: dict[str, Value] = {
        "step_count": float(len(nodes)),
        "llm_calls": float(len(llm)),
        "tool_calls": float(len(tools)),
        "retry_count": float(retries),
        "retry_exhausted": float(exhausted),
        "error": float(root.error),
        "refusal_flagged": float(refusal_flagged),
        "latency_ms": (root.end_ns - root.start_ns) / 1e6,
        "input_tokens": float(sum(int(s.attributes.get(sc.USAGE_INPUT_TOKENS) or 0) for s in llm)),
        "output_tokens": float(sum(int(s.attributes.get(sc.USAGE_OUTPUT_TOKENS) or 0) for s in llm)),
        "tool_sequence": ">".join(str(s.attributes.get(sc.TOOL_NAME, s.name)) for s in tools),
        "route_path": ">".join(routes),
        "error_type": error_type,
        "request_model": "|".join(requested),
        "response_model": "|".join(answered),
        "fingerprint": "|".join(prints),
        "model_version": ";".join(pairs),
    }
    out.update(scores)
    return out


def trajectory(root: SpanRecord, spans: Sequence[SpanRecord], segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS) -> Trajectory:
    """The :class:`Trajectory` of the run rooted at ``root``."""
    feats = features(root, spans)
    models = [m for m in str(feats["request_model"]).split("|") if m]
    return Trajectory(root.trace_id, root.span_id, root.end_ns / 1e9, segment_values(root, segment_keys, models), feats)


def is_run_root(record: SpanRecord, parent: Optional[SpanRecord]) -> bool:
    """A trajectory root: an agenttrace run span whose parent is not an agenttrace run span."""
    return sc.RUN_ID in record.attributes and (parent is None or sc.RUN_ID not in parent.attributes)


def run_subtrees(records: Iterable[SpanRecord]) -> list[tuple[SpanRecord, list[SpanRecord]]]:
    """Group finished spans into runs: (run root, all spans of its run, root included) per run root."""
    by_id = {r.span_id: r for r in records}
    children: dict[str, list[SpanRecord]] = {}
    for r in by_id.values():
        if r.parent_id is not None:
            children.setdefault(r.parent_id, []).append(r)
    out = []
    for r in by_id.values():
        if not is_run_root(r, by_id.get(r.parent_id) if r.parent_id else None):
            continue
        subtree, stack = [], [r]
        while stack:
            node = stack.pop()
            subtree.append(node)
            stack.extend(children.get(node.span_id, ()))
        out.append((r, subtree))
    return out


def trajectories(records: Iterable[SpanRecord], segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS) -> list[Trajectory]:
    """Group finished spans into runs and compute one :class:`Trajectory` per run root."""
    return sorted((trajectory(root, subtree, segment_keys) for root, subtree in run_subtrees(records)),
                  key=lambda t: t.end_time)


def _ns(value: Any) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1e9)


def record_from_phoenix(span: Mapping[str, Any]) -> SpanRecord:
    """A span as Phoenix's REST API returns it (``/v1/projects/{p}/spans``) → :class:`SpanRecord`."""
    return SpanRecord(span_id=span["context"]["span_id"], parent_id=span.get("parent_id"), trace_id=span["context"]["trace_id"],
                      name=span["name"], start_ns=_ns(span["start_time"]), end_ns=_ns(span["end_time"]),
                      attributes=span.get("attributes") or {}, error=span.get("status_code") == "ERROR")


def record_from_sdk(span: Any) -> SpanRecord:
    """A finished OpenTelemetry SDK ``ReadableSpan`` → :class:`SpanRecord`."""
    from opentelemetry.trace import StatusCode

    parent = format(span.parent.span_id, "016x") if span.parent is not None else None
    return SpanRecord(span_id=format(span.context.span_id, "016x"), parent_id=parent, trace_id=format(span.context.trace_id, "032x"),
                      name=span.name, start_ns=span.start_time, end_ns=span.end_time or span.start_time,
                      attributes=dict(span.attributes or {}), error=span.status.status_code is StatusCode.ERROR)
