"""The passes of ``agenttrace watch``: detect, de-duplicate, notify — every interval until stopped.

One pass (:meth:`Watcher.run_pass`):

1. when watching a Phoenix project, refresh the profile store from its spans (the runs that
   ended since the last pass; the first pass reads them all);
2. run the 7-day drift rules (``rules.detect``) and the fast sequential rules
   (``sequential.fast_findings``: CUSUM / SPRT on the refusal rate of the latest windows, the
   model version change on its first run);
3. group the findings into incidents (``incidents.group``; the drift run's incidents first, a
   fast incident whose stable id is already there is the same problem);
4. turn each incident at or above ``notify_on`` into an :class:`agenttrace.alerts.AlertIncident`
   (evidence in one line, a link to the Phoenix view filtered to the affected runs) and hand
   them to :meth:`Alerter.observe`, which opens, escalates and resolves alerts in its store and
   queues each notification once; then :meth:`Alerter.deliver` sends what is due.

The alert store is transactional, so a pass that is killed half-way leaves the state of the last
committed step; the next process picks the queued notifications up (``deliver``) and re-observes
the same incidents without opening them again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

SEVERITY_RANK = {"info": 0, "warning": 1, "alert": 2}
EVIDENCE_CHARS = 200
WIDTH = 80
DELIVERY_TICK = 5.0  # seconds between delivery retries while waiting for the next pass (at most)
INGEST_LAG = timedelta(seconds=30)  # runs that ended this recently are read from Phoenix at the next pass


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def one_line(text: Any, width: int = EVIDENCE_CHARS) -> str:
    words = " ".join(str(text or "").split())
    return words if len(words) <= width else words[: width - 1] + "…"


@dataclass
class PassResult:
    started: datetime
    seconds: float
    findings: int
    incidents: int            # incidents at or above the notify level seen in this pass
    events: list              # the Alerter's events of this pass (opened / escalated / resolved)
    sent: int                 # notifications delivered in this pass
    pending: int              # notifications still queued (to be retried)
    refreshed: Optional[int] = None  # runs read from Phoenix (None: not watching a project)

    def line(self, number: int) -> str:
        fresh = f" +{self.refreshed} runs," if self.refreshed is not None else ""
        text = (f"{self.started:%H:%M:%S} #{number}:{fresh} {self.findings} findings, {self.incidents} incidents, "
                f"{len(self.events)} events, {self.sent} sent, {self.pending} pending, {self.seconds:.1f}s")
        return one_line(text, WIDTH)


def event_line(event: Any) -> str:
    """An ``agenttrace.alerts.AlertEvent`` in 80 columns:
    ``  opened    alert   3f2a9c1d0b44 gpt-4o → gpt-4o-2024-11-20: refusals…``."""
    incident = event.incident
    line = f"  {event.kind:<9} {incident.severity:<7} {incident.id} {one_line(incident.title)}"
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


@dataclass
class Source:
    """Where the runs are: a profile store, or a Phoenix project profiled into one (``from_phoenix``).
    With a project, links and annotations go to it either way."""

    store_path: Path
    phoenix_project: Optional[str] = None
    phoenix_url: Optional[str] = None
    segment_keys: tuple[str, ...] = ()
    from_phoenix: bool = False
    _phoenix: Any = None
    _read_until: Optional[datetime] = None

    def refresh(self) -> Optional[int]:
        """Read the Phoenix runs that ended since the last refresh into the store (runs read), or
        None when the store is not built from Phoenix."""
        if not self.from_phoenix:
            return None
        from agenttrace.trajectory import DEFAULT_PROFILE_WINDOW, DEFAULT_SEGMENT_KEYS
        from agenttrace_phoenix import PhoenixError

        from .cli_common import BadInput
        from .from_phoenix import write_phoenix_runs
        from .store import ProfileStore

        keys = tuple(dict.fromkeys([*DEFAULT_SEGMENT_KEYS, *self.segment_keys]))
        # runs are read by the end of their root span, in [the last pass's end, now - lag): the lag
        # leaves Phoenix time to store spans that were just exported (a restart reads everything again)
        until = now_utc() - INGEST_LAG
        store = ProfileStore(self.store_path, window=timedelta(seconds=DEFAULT_PROFILE_WINDOW), segment_keys=keys,
                             sync_interval=None)
        try:
            rows = write_phoenix_runs(self.phoenix(), self.phoenix_project, store, start=self._read_until, end=until,
                                      segment_keys=keys)
        except PhoenixError as err:
            raise BadInput(f"{err} (is Phoenix running at {self.phoenix_url}?)") from None
        self._read_until = until
        return rows

    def phoenix(self) -> Any:
        from agenttrace_phoenix import PhoenixStore

        if self._phoenix is None:
            self._phoenix = PhoenixStore(self.phoenix_url)
        return self._phoenix

    def open(self) -> Any:
        from .cli_common import open_store

        return open_store(self.store_path)


@dataclass
class Watcher:
    source: Source
    alerter: Any                        # agenttrace.alerts.Alerter
    config: Any                         # rules.DriftConfig
    notify_on: str = "alert"
    fast_config: Any = None             # sequential config (None: its defaults)
    annotate: bool = False              # write the findings of new alerts to Phoenix (the link filters on them)
    clock: Callable[[], datetime] = now_utc
    passes: int = 0
    problems: list = field(default_factory=list)  # the last pass's failed deliveries (retried later) and annotations
    _phoenix_link: Any = field(default=None, repr=False)

    # --- detection ------------------------------------------------------------------------------

    def detect(self, store: Any, now: datetime) -> tuple[int, list, Any]:
        """(findings, incidents, drift result) on the store's data up to ``now``."""
        from . import rules
        from .sequential import fast_findings, fast_incidents

        result = rules.detect(store, config=self.config)
        incidents = list(result.incidents)
        # data time: the end of the latest profiled window, or now when that window is still open
        fast = list(fast_findings(store, min(now, store.time_range()[1]), self.fast_config))
        known = {i.id for i in incidents}
        incidents += [i for i in fast_incidents(fast) if i.id not in known]
        return len(result.findings) + len(fast), incidents, result

    # --- incidents → alerts -------------------------------------------------------------------

    def alert_incident(self, incident: Any, window: Optional[Sequence[datetime]]) -> Any:
        from agenttrace.alerts import AlertIncident

        from .incidents import seg_label

        findings = list(incident.findings)
        evidence = findings[1:] if incident.cause and len(findings) > 1 else findings
        return AlertIncident(id=incident.id, severity=incident.severity, title=one_line(incident.title),
                             evidence=one_line(evidence[0].message if evidence else incident.title),
                             cause=incident.cause, link=self.link(incident, window), action=one_line(incident.action),
                             key=incident.key, segments=[seg_label(s) for s in incident.segments],
                             first_seen=incident.first_seen)

    def link(self, incident: Any, window: Optional[Sequence[datetime]]) -> Optional[str]:
        """The Phoenix spans view filtered to the runs annotated for the incident (None without a project)."""
        if not self.source.phoenix_project:
            return None
        from .report_links import incident_condition, phoenix_project

        if self._phoenix_link is None or self._phoenix_link.id is None:
            self._phoenix_link = phoenix_project(self.source.phoenix_url, self.source.phoenix_project)
        return self._phoenix_link.runs_link(incident_condition(incident), window)

    # --- one pass -------------------------------------------------------------------------------

    def run_pass(self, stop: Optional[threading.Event] = None) -> PassResult:
        started, clock0 = self.clock(), time.monotonic()
        refreshed = self.source.refresh()
        store = self.source.open()
        findings, incidents, result = self.detect(store, started)
        level = SEVERITY_RANK[self.notify_on]
        chosen = [i for i in incidents if SEVERITY_RANK.get(i.severity, 0) >= level]
        alerts = [self.alert_incident(i, result.current) for i in chosen]
        if stop is not None and stop.is_set():  # asked to stop while detecting: nothing observed, nothing lost
            return PassResult(started, time.monotonic() - clock0, findings, len(chosen), [], 0,
                              len(self.alerter.pending()), refreshed)
        events = list(self.alerter.observe(alerts, self.clock()))
        self.problems = []
        if self.annotate:
            news = {e.incident.id for e in events if e.kind in ("opened", "escalated")}
            self._annotate(result, [i for i in chosen if i.id in news], store)
        stats = self.alerter.deliver(self.clock())
        self.problems += [f"delivery failed (kept, retried with backoff): {e}" for e in stats.errors]
        self.passes += 1
        return PassResult(started, time.monotonic() - clock0, findings, len(chosen), events, stats.sent,
                          len(self.alerter.pending()), refreshed)

    def _annotate(self, result: Any, incidents: list, store: Any) -> None:
        """Write the findings of newly opened or escalated incidents to Phoenix, so that the link in
        their notification shows the affected runs."""
        if not incidents:
            return
        from agenttrace_phoenix.annotations import annotate_findings

        findings = [f for i in incidents for f in i.findings]
        try:
            annotate_findings(self.source.phoenix(), self.source.phoenix_project, findings, incidents=incidents,
                              segment_keys=tuple(store.segments()))
        except Exception as err:  # noqa: BLE001 — the notification goes out; its link may show fewer runs
            self.problems.append(f"annotating the runs in Phoenix failed: {type(err).__name__}: {err}")


def run_forever(watcher: Watcher, interval: float, stop: threading.Event, say: Callable[[str], None],
                warn: Callable[[str], None], once: bool = False) -> int:
    """Passes every ``interval`` seconds until ``stop`` is set (or one with ``once``); a pass that
    raises is reported and the next one runs on time. Between passes, due retries are delivered.
    Returns the number of passes that failed."""
    failures = 0
    number = 0
    while not stop.is_set():
        number += 1
        began = time.monotonic()
        try:
            outcome = watcher.run_pass(stop)
        except Exception as err:  # noqa: BLE001 — the watch keeps running; the next pass retries
            failures += 1
            from .cli_common import BadInput

            what = str(err) if isinstance(err, BadInput) else f"{type(err).__name__}: {err}"
            warn(one_line(f"pass {number} failed: {what}", 400))
            if once:
                break
        else:
            for event in outcome.events:
                say(event_line(event))
            for problem in watcher.problems:
                warn(one_line(problem, 400))
            say(outcome.line(number))
        if once:
            break
        _wait(watcher, began + interval, stop, warn)
    return failures


def _wait(watcher: Watcher, until: float, stop: threading.Event, warn: Callable[[str], None]) -> None:
    """Sleep until the monotonic time ``until`` (or ``stop``), retrying due deliveries meanwhile."""
    while not stop.is_set():
        left = until - time.monotonic()
        if left <= 0:
            return
        if stop.wait(min(left, DELIVERY_TICK)):
            return
        try:
            if watcher.alerter.pending():
                watcher.alerter.deliver(watcher.clock())
        except Exception as err:  # noqa: BLE001
            warn(one_line(f"delivery failed: {type(err).__name__}: {err}", 400))
