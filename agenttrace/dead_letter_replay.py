"""Replaying dead-letter entries: the stored input through the user's runnable, traced.

Each entry is claimed first (no other replayer can take it), run inside a span
``agenttrace.dead_letter.replay`` that links to the original failed trace, with agenttrace's
callback handler so the replayed run is traced as usual, and its outcome recorded: ``replayed``
(never replayed again) or back to ``pending`` with the error.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, Optional

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, StatusCode, TraceFlags

from . import semconv as sc
from .errors import error_type


@dataclass
class Outcome:
    entry_id: str
    ok: bool
    trace_id: Optional[str]
    error: Optional[str]


def load_runnable(ref: str) -> Any:
    """``"package.module:attr"`` → the runnable (an attribute path; a zero-argument factory is called)."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ValueError(f"agent {ref!r} is not module:attr")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the user's modules in the current directory
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not hasattr(obj, "invoke") and callable(obj):
        obj = obj()
    if not hasattr(obj, "invoke"):
        raise ValueError(f"agent {ref!r} is not a LangChain runnable")
    return obj


def load_input(entry: dict) -> Any:
    """The stored input as LangChain objects again (``langchain_core.load``; core classes only)."""
    import json

    from langchain_core.load import loads

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return loads(json.dumps(entry["input"]), allowed_objects="core")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _link(entry: dict) -> list:
    try:
        ctx = SpanContext(int(entry["trace_id"], 16), int(entry["span_id"], 16), is_remote=True,
                          trace_flags=TraceFlags(TraceFlags.SAMPLED))
    except (TypeError, ValueError, KeyError):
        return []
    return [Link(ctx, {sc.DEAD_LETTER_ENTRY: entry["id"]})] if ctx.is_valid else []


def replay_one(entry: dict, runnable: Any, telemetry: Any) -> Outcome:
    """Run one claimed entry through ``runnable`` under a span linked to its original trace."""
    tracer = trace.get_tracer("agenttrace", tracer_provider=telemetry.tracer_provider)
    with tracer.start_as_current_span(sc.DEAD_LETTER_REPLAY_SPAN, links=_link(entry),
                                      attributes={sc.DEAD_LETTER_ENTRY: entry["id"]},
                                      record_exception=False, set_status_on_exception=False) as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        config = {"callbacks": [telemetry.callback_handler], "metadata": dict(entry.get("metadata") or {}),
                  "tags": list(entry.get("tags") or [])}
        try:
            runnable.invoke(load_input(entry), config=config)
        except Exception as err:  # noqa: BLE001 - the outcome is recorded, the next entry goes on
            span.set_attribute(sc.DEAD_LETTER_OUTCOME, "failed")
            span.set_attribute(sc.ERROR_TYPE, error_type(err))
            span.set_status(StatusCode.ERROR, error_type(err))
            return Outcome(entry["id"], False, trace_id, f"{error_type(err)}: {err}")
        span.set_attribute(sc.DEAD_LETTER_OUTCOME, "replayed")
        return Outcome(entry["id"], True, trace_id, None)


def replay(store: Any, telemetry: Any, agent: Optional[str], limit: int, worker: Optional[str] = None,
           include_failed: bool = False, on_outcome: Any = None) -> list:
    """Claim and replay up to ``limit`` entries, one at a time; returns their outcomes. Entries whose
    replay failed before are taken again only with ``include_failed`` (each at most once per call)."""
    worker = worker or worker_id()
    since = time.time()
    runnables: dict = {}
    outcomes = []
    while len(outcomes) < limit:
        claimed = store.claim(worker, 1, include_failed=include_failed, since=since)
        if not claimed:
            break
        entry = claimed[0]
        ref = agent or entry.get("replay_agent")
        try:
            if not ref:
                raise ValueError("no agent to replay through: pass --agent module:attr "
                                 "(or DeadLetter(replay_agent=...) when configuring)")
            if ref not in runnables:
                runnables[ref] = load_runnable(ref)
            outcome = replay_one(entry, runnables[ref], telemetry)
        except Exception as err:  # noqa: BLE001 - an entry that cannot be replayed: recorded as failed
            outcome = Outcome(entry["id"], False, None, f"{error_type(err)}: {err}")
        store.complete(entry["id"], worker, outcome.ok, outcome.trace_id, outcome.error)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(entry, outcome)
    return outcomes
