"""Failed runs read from spans: one :class:`Failure` per run root that ended in error, with the
run's error message, HTTP status, provider/model, segment values and retry counts.

Where the message comes from: the profile store keeps sketches, not messages, so failures are read
from spans — the OpenTelemetry SDK's finished spans (``ReadableSpan``) or a Phoenix project's
(REST API dicts). The message is the run's ``exception`` event ``exception.message`` (recorded only
with content capture on: ``agenttrace.errors``), else its status description, else that of the
latest failing span under it; with capture off it is the exception type. The HTTP status is the
latest ``http.response.status_code`` on the run's spans (attempt spans carry it when the error does),
else one a provider message states ("Error code: 429"). Templates are mined from the messages
by ``retry_clusters``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from agenttrace import semconv as sc
from agenttrace.trajectory import (DEFAULT_SEGMENT_KEYS, SpanRecord, Trajectory, record_from_phoenix, record_from_sdk,
                                   trajectories)

STATUS_ATTR = sc.HTTP_STATUS_CODE  # http.response.status_code
PROVIDER_ATTRS = ("gen_ai.provider.name", "gen_ai.system")
# the status a provider SDK puts in its messages (OpenAI, Anthropic: "Error code: 429 - {...}")
_STATED_STATUS = re.compile(r"\b(?:error code|status(?: code)?)[:= ]+([1-5]\d\d)\b", re.IGNORECASE)


@dataclass
class SpanExtra:
    """What a failure needs beyond :class:`SpanRecord`: the error message and HTTP status."""

    message: str = ""
    status: Optional[int] = None


@dataclass
class Failure:
    trace_id: str
    span_id: str
    time: float                    # the run's end, epoch seconds
    error_type: str
    message: str
    status: Optional[int]
    provider: str
    model: str
    segments: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    exhausted: bool = False
    template: str = ""             # filled in by retry_clusters.mine


def _status(value: Any) -> Optional[int]:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 100 <= number <= 599 else None


def sdk_extra(span: Any) -> SpanExtra:
    message = next((str(e.attributes.get(sc.EXCEPTION_MESSAGE)) for e in reversed(span.events or ())
                    if e.name == "exception" and e.attributes and e.attributes.get(sc.EXCEPTION_MESSAGE)), "")
    return SpanExtra(message or (span.status.description or ""), _status((span.attributes or {}).get(STATUS_ATTR)))


def phoenix_extra(span: dict) -> SpanExtra:
    events = span.get("events") or []
    message = next((str((e.get("attributes") or {}).get(sc.EXCEPTION_MESSAGE)) for e in reversed(events)
                    if e.get("name") == "exception" and (e.get("attributes") or {}).get(sc.EXCEPTION_MESSAGE)), "")
    attrs = span.get("attributes") or {}
    return SpanExtra(message or str(span.get("status_message") or ""), _status(attrs.get(STATUS_ATTR)))


def from_sdk_spans(spans: Iterable[Any], segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS) -> tuple[list[Trajectory], list[Failure]]:
    """(every run, the failed runs) of finished OpenTelemetry SDK spans."""
    pairs = [(record_from_sdk(s), sdk_extra(s)) for s in spans]
    return runs_and_failures(pairs, segment_keys)


def from_phoenix_spans(spans: Iterable[dict], segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS) -> tuple[list[Trajectory], list[Failure]]:
    """(every run, the failed runs) of spans as Phoenix's REST API returns them."""
    pairs = [(record_from_phoenix(s), phoenix_extra(s)) for s in spans]
    return runs_and_failures(pairs, segment_keys)


def runs_and_failures(pairs: Sequence[tuple[SpanRecord, SpanExtra]],
                      segment_keys: Sequence[str] = DEFAULT_SEGMENT_KEYS) -> tuple[list[Trajectory], list[Failure]]:
    records = {r.span_id: r for r, _ in pairs}
    extra = {r.span_id: x for r, x in pairs}
    children: dict[str, list[str]] = {}
    for r in records.values():
        if r.parent_id:
            children.setdefault(r.parent_id, []).append(r.span_id)
    runs = trajectories(records.values(), segment_keys)
    failures = []
    for run in runs:
        if not run.features.get("error"):
            continue
        subtree, stack = [], [run.span_id]
        while stack:
            sid = stack.pop()
            subtree.append(records[sid])
            stack.extend(children.get(sid, ()))
        failures.append(_failure(run, records[run.span_id], subtree, extra))
    return runs, failures


def _failure(run: Trajectory, root: SpanRecord, subtree: list[SpanRecord], extra: dict[str, SpanExtra]) -> Failure:
    latest_first = sorted(subtree, key=lambda s: s.end_ns, reverse=True)
    failing = [s for s in latest_first if s.error]
    error_type = str(run.features.get("error_type") or "")
    message = extra[root.span_id].message
    if not message or message == error_type:
        message = next((extra[s.span_id].message for s in failing if extra[s.span_id].message not in ("", error_type)),
                       message)
    status = next((extra[s.span_id].status for s in latest_first if extra[s.span_id].status is not None), None)
    if status is None:
        stated = _STATED_STATUS.search(message or "")
        status = int(stated.group(1)) if stated else None
    provider = next((str(s.attributes[a]) for s in subtree for a in PROVIDER_ATTRS if s.attributes.get(a)), "")
    return Failure(run.trace_id, run.span_id, run.end_time, error_type, message or error_type or "(no message)", status,
                   provider, str(run.features.get("request_model") or ""), dict(run.segments),
                   int(run.features.get("retry_count") or 0), bool(run.features.get("retry_exhausted")))
