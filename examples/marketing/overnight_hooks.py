"""What the overnight batch's summary shows beyond completion rates: the live retry-storm /
thundering-herd detector's findings for each policy, and the dead-letter queue's entries.

:func:`sections` returns the ``configure()`` options and the summary hooks that
:func:`~agenttrace_examples.marketing.overnight.run_overnight` takes; ``agenttrace demo --overnight``
uses them. Both policies write their exhausted runs to one dead-letter store, so that
``agenttrace dlq replay --agent agenttrace_examples.marketing.overnight:replay_agent`` can finish
them on the daytime tier.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Union

from agenttrace import DeadLetter
from agenttrace.dead_letter_store import default_target, open_store

from .overnight_summary import OvernightSummary, PolicyResult, Section

REPLAY_AGENT = "agenttrace_examples.marketing.overnight:replay_agent"


def storm_section(result: PolicyResult, telemetry: Any) -> Optional[Section]:
    """The retry monitor's storms and herds during one policy's batch, with their onset."""
    monitor = getattr(telemetry, "retry_monitor", None)
    if monitor is None:
        return None
    monitor.force_flush()  # decide on everything the batch produced before reading
    episodes = monitor.storms()
    totals = monitor.snapshot()["totals"]
    amplification = totals.get("attempts", 0) / max(1, totals.get("calls", 0))
    lines = [f"{totals.get('calls', 0)} model calls, {totals.get('attempts', 0)} attempts "
             f"(amplification {amplification:.2f}), {totals.get('rate_limited', 0)} answered 429"]
    if not episodes:
        lines.append("no retry storm or thundering herd detected")
    for e in episodes:
        onset = time.strftime("%H:%M:%S", time.localtime(e.detected_ns / 1e9))
        after = f", {(e.detected_ns - e.first_retry_ns) / 1e9:.1f} s after the first retry" if e.first_retry_ns else ""
        jitter = {True: "retries without jitter", False: "retries jittered", None: "jitter unknown"}[e.jitter_missing]
        herd = f", {e.bunched_retries} retries within 100 ms" if e.bunched_retries else ""
        lines.append(f"{e.kind} on {e.provider or '?'} {e.model}: detected {onset}{after}; amplification "
                     f"{e.amplification:.2f}, {jitter}{herd}")
    return Section(f"retry monitor ({result.policy})", lines)


def dead_letter_section(store: Union[str, Path]):
    """A batch hook: what the dead-letter store holds from this batch, and how to replay it."""
    started = time.time()

    def hook(summary: OvernightSummary) -> Optional[Section]:
        db = open_store(str(store))
        try:
            entries = [e for e in db.list(limit=100_000) if (e.get("created_at") or 0) >= started]
        finally:
            db.close()
        by_policy = Counter((e.get("metadata") or {}).get("retry_policy", "?") for e in entries)
        by_error = Counter(e.get("error_type") or "?" for e in entries)
        lines = [f"{len(entries)} runs that exhausted their retries on retryable errors are kept in {store} "
                 f"({', '.join(f'{p} {n}' for p, n in sorted(by_policy.items())) or 'none'}; "
                 f"{', '.join(f'{t} {n}' for t, n in by_error.most_common()) or 'no errors'})"]
        if entries:
            where = "" if str(store) == default_target() else f" --store {store}"
            lines.append(f"replay them through the daytime agent stored with them ({REPLAY_AGENT}): "
                         f"agenttrace dlq{where} replay")
        lines.append("content-policy failures (HTTP 400) are not retryable: not dead-lettered, see the clusters")
        return Section("dead-letter queue", lines)

    return hook


def clusters_section(summary: OvernightSummary) -> Optional[Section]:
    """The batch's failed runs clustered by cause (the whylogs integration's ``agenttrace retries``
    analysis, on the spans the batch recorded): which fail for a content reason, which for capacity."""
    try:
        from agenttrace_whylogs.retry_clusters import cluster
        from agenttrace_whylogs.retry_failures import from_sdk_spans
    except ImportError:
        return Section("failure clusters", ["skipped: pip install -e integrations/whylogs (agenttrace retries)"])
    runs, failures = from_sdk_spans(summary.records)
    lines = []
    for c in cluster(failures, runs)[:4]:
        where = f", {c.concentrated[0]}={c.concentrated[1]}" if c.concentrated else ""
        lines.append(f"{c.kind.replace('_', ' ')}: {c.failures} failed runs ({c.exhausted} exhausted), HTTP "
                     f"{c.status or '?'}{where}: {c.template[:90]}")
        lines.append(f"  {'; '.join(c.evidence)} → {c.next_step}")
    lines.append(f"all of them, with a plot and Phoenix annotations: agenttrace retries --phoenix-project {summary.project}")
    return Section("failure clusters", lines)


def sections(store: Union[str, Path, None] = None) -> dict:
    """``run_overnight`` keyword arguments: dead-letter queue on ``store`` (default
    ``AGENTTRACE_DEAD_LETTER``, else ``agenttrace dlq``'s default), the storm and dead-letter
    sections in the summary."""
    store = store or default_target()
    Path(store).parent.mkdir(parents=True, exist_ok=True)
    return {"telemetry_options": {"dead_letter": DeadLetter(str(store), replay_agent=REPLAY_AGENT)},
            "policy_sections": [storm_section], "batch_sections": [dead_letter_section(store), clusters_section],
            "record_spans": True}
