"""The fast rules of ``agenttrace watch``: sequential tests on every flushed profile window against
the 30-day baseline, and the model version change on its first run.

API (what ``agenttrace watch`` calls; names are kept stable):

``fast_findings(store, now, config=None) -> list[Finding]``
    One pass at time ``now`` (aware datetime; data time, so a simulated clock works). Returns
    :class:`.results.Finding` objects, all on the overall segment ``("*", "*")``:

    - ``refusal_cusum`` (feature ``refusal_flagged``, annotation ``refusal_rate_alert``): a one-sided
      Bernoulli CUSUM of the refusal flag (:mod:`.sequential_stats`) alarms in some stream;
    - ``rate_cusum`` (features ``error``, ``retry_exhausted``, annotation ``distribution_drift``):
      the same test on those 0/1 flags;
    - ``model_version_change``: a ``request → response (fingerprint)`` pair seen in the last
      ``config.model_window`` (default 7 days; the scanned hours when the store has nothing
      before that) that the 30 days before never had
      (:func:`.model_versions.model_version_findings`, as ``agenttrace drift`` reports it, with the
      exact first-seen time of the new version): it fires on the first pass after the first window
      holding a run of the new version is in the store.

    A stream is the overall segment or one value of ``config.segment_keys`` (default
    ``request_model``: one stream per alias). A CUSUM finding names the stream where it is
    strongest (``S / h``) in its message and lists every alarmed stream in ``current["segments"]``;
    ``first_seen`` is the start of the window where the CUSUM last left 0 (its estimate of the
    change time), ``stats`` holds ``statistic`` (S), ``threshold`` (h), ``p0``, ``p1``, ``streams`` and
    ``false_alarm_years``. Only alerts are returned (a new requested model, an info, is left to
    ``agenttrace drift``).

``fast_incidents(findings) -> list[Incident]``
    :func:`.incidents.group`, with the uncaused findings kept one incident per kind of change: the
    id of an incident is a hash of (rule, segment, feature, cause) only, never of the window or the
    statistic, so the same problem keeps its id from one pass to the next: a model version change
    is ``model_version_change|*|model_version|<pair>`` (the CUSUM findings it explains are its
    evidence: the incident escalates when they join), a refusal rise without a cause
    ``refusal_cusum|all|refusals|``, an error rise ``rate_cusum|all|error|``.

``stream_tests(store, now, config=None) -> dict[feature, list[(segment, StreamResult)]]``
    Every stream's test of the pass, alarmed or not (:class:`.sequential_stats.StreamResult`).

State: none. Each pass recomputes the CUSUM from the stored, closed windows of the last
``config.scan`` (default 24 h), starting from 0 at the first of them, against the
``config.baseline`` (30 days) before that (the 30 whole UTC days before the day the scan starts
in, so the store reads its day profiles: a pass reads ~30 + the scanned windows' files per
stream). A restarted CUSUM is never above the one that would have run since the baseline, so this
raises no more false alarms than a CUSUM kept in memory, and a ``kill -9`` of ``watch`` loses
nothing. It works on whatever windows the store holds (10 minutes by default, tested as each one
closes; a store written with hourly windows is tested every hour, see docs/sequential-tests.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional, Sequence

from whylogs.core.view import DatasetProfileView

from .incidents import Incident, group, kind
from .model_versions import model_version_findings
from .results import ANNOTATIONS, Finding, iso, seg_id
from .rule_refusal import REFUSED_RUNS
from .sequential_stats import SequentialConfig, StreamResult, evaluate
from .stats import is_binary, rate_of
from .store import OVERALL, ProfileStore, utc

__all__ = ["SequentialConfig", "StreamResult", "fast_findings", "fast_incidents", "stream_tests", "RULE_OF"]

RULE_OF = {"refusal_flagged": "refusal_cusum", "error": "rate_cusum", "retry_exhausted": "rate_cusum"}
ANNOTATION_OF = {"refusal_cusum": ANNOTATIONS["refusal_rate"], "rate_cusum": ANNOTATIONS["distribution_drift"]}
LABEL = {"refusal_flagged": "refusal rate", "error": "error rate", "retry_exhausted": "exhausted-retry rate"}
ACTION = {"refusal_flagged": "check the provider's model updates and the prompt changes of the last hours",
          "error": "look at the failing runs' error types", "retry_exhausted": "run `agenttrace retries` on the last hours"}


def fast_findings(store: ProfileStore, now: datetime, config: Optional[SequentialConfig] = None) -> list[Finding]:
    """The fast rules' findings at ``now`` (see the module docstring)."""
    cfg = config or SequentialConfig()
    now = utc(now)
    scan = (now - cfg.scan, now)
    results, starts = _tests(store, now, cfg)
    findings = [f for feature, got in results.items() if (f := _finding(feature, got, starts, scan, store.stored_window, cfg))]
    if cfg.model_versions:
        findings += _model_versions(store, now, cfg)
    return findings


def stream_tests(store: ProfileStore, now: datetime, config: Optional[SequentialConfig] = None
                 ) -> dict[str, list[tuple[tuple[str, str], StreamResult]]]:
    """Feature → (stream, its test) for every stream tested at ``now``, alarmed or not (what a
    pass looked at: e.g. for a status line)."""
    return _tests(store, utc(now), config or SequentialConfig())[0]


def _tests(store: ProfileStore, now: datetime, cfg: SequentialConfig):
    scan = (now - cfg.scan, now)
    baseline = _before(scan[0], cfg.baseline)
    window = store.stored_window
    known = store.segments()
    streams = [OVERALL] + [(k, v) for k in cfg.segment_keys for v in known.get(k, [])]
    results: dict[str, list[tuple[tuple[str, str], StreamResult]]] = {f: [] for f in cfg.features}
    inputs = []
    for seg in streams:
        base = store.read(*baseline, segment=seg)
        if base is None:
            continue
        base_windows = sum(1 for s in store.windows(seg) if baseline[0] <= s < baseline[1])
        # closed windows only: an open one (rows of a writer that was killed mid-window) is tested once it ends
        scanned = [(s, v) for s, v in store.read_windows(*scan, segment=seg) if s + window <= now]
        inputs.append((seg, base, base_windows, scanned))
    for feature in cfg.features:
        tested = [(seg, base, bw, scanned) for seg, base, bw, scanned in inputs if _flag(base, feature)]
        for seg, base, bw, scanned in tested:
            kb, nb, _ = rate_of(base.get_column(feature))
            counts = [rate_of(v.get_column(feature))[:2] for _, v in scanned]
            res = evaluate([k for k, _ in counts], [n for _, n in counts], kb, nb, bw, window, cfg, len(tested))
            if res is not None:
                results[feature].append((seg, res))
    return results, {seg: [s for s, _ in scanned] for seg, _, _, scanned in inputs}


def fast_incidents(findings: Sequence[Finding]) -> list[Incident]:
    """The findings as incidents with ids that stay the same from pass to pass (module docstring)."""
    out: list[Incident] = []
    for inc in group(list(findings)):
        if inc.cause is not None:
            out.append(inc)
            continue
        kinds: dict[str, list[Finding]] = {}
        for f in inc.findings:
            kinds.setdefault(kind(f.feature), []).append(f)
        for members in kinds.values():
            out.extend(group(members))
    return out


def _before(start: datetime, length: timedelta) -> tuple[datetime, datetime]:
    """The baseline of a window starting at ``start``: ``length`` ending at the UTC midnight at or
    before ``start`` when ``length`` is whole days (the store's day profiles then cover it: one file
    per day and stream instead of one per window), else ending at ``start``."""
    if length.total_seconds() % 86400:
        return start - length, start
    end = start.replace(hour=0, minute=0, second=0, microsecond=0)
    return end - length, end


def _flag(view: DatasetProfileView, feature: str) -> bool:
    col = view.get_column(feature)
    return col is not None and rate_of(col)[1] > 0 and is_binary(col)


def _finding(feature: str, got: list[tuple[tuple[str, str], StreamResult]], starts: dict[tuple[str, str], list[datetime]],
             scan: tuple[datetime, datetime], window: timedelta, cfg: SequentialConfig) -> Optional[Finding]:
    alarmed = sorted(((seg, r) for seg, r in got if r.alarm), key=lambda x: (-x[1].statistic / x[1].h, x[0] != OVERALL, x[0]))
    if not alarmed:
        return None
    seg, r = alarmed[0]
    since = starts[seg][r.since] if r.since is not None and r.since < len(starts[seg]) else None
    rate = r.events / r.runs if r.runs else 0.0
    where = "" if seg == OVERALL else f" in {seg_id(seg)}"
    label = LABEL.get(feature, feature.replace("_", " ") + " rate")
    when = f" since {iso(since)}" if since else ""
    message = (f"{label} {r.p0:.1%} → {rate:.1%}{where}{when} ({r.events}/{r.runs} runs; CUSUM {r.statistic:.1f} ≥ "
               f"{r.h:.1f}, tuned to a rise to {r.p1:.1%})")
    per_stream = {seg_id(s): {"rate": x.events / x.runs if x.runs else 0.0, "events": x.events, "runs": x.runs,
                              "baseline_rate": x.p0, "statistic": x.statistic, "threshold": x.h} for s, x in alarmed}
    rule = RULE_OF.get(feature, "rate_cusum")
    stats = {"test": "Bernoulli CUSUM (one-sided)", "statistic": r.statistic, "threshold": r.h, "p0": r.p0, "p1": r.p1,
             "effect": (rate - r.p0) / r.p0 if r.p0 else 0.0, "streams": len(got), "false_alarm_years": cfg.false_alarm_years,
             "segment": seg_id(seg), "window_seconds": window.total_seconds()}
    selector = dict(REFUSED_RUNS) if feature == "refusal_flagged" else {"feature": feature, "op": ">=", "value": 1}
    return Finding(rule, "alert", "*", "*", feature, round(r.statistic / r.h, 4), message, ACTION.get(feature, "investigate"),
                   ANNOTATION_OF[rule], {"n": r.base_runs, "events": r.base_events, "rate": r.p0},
                   {"n": r.runs, "events": r.events, "rate": rate, "segments": per_stream}, scan, since, stats, selector)


def _model_versions(store: ProfileStore, now: datetime, cfg: SequentialConfig) -> list[Finding]:
    baseline = _before(now - cfg.model_window, cfg.baseline)
    base = store.read(*baseline)
    if base is None:  # a store younger than the model window: the scanned hours against the baseline before them
        baseline = _before(now - cfg.scan, cfg.baseline)
        base = store.read(*baseline)
    current = (baseline[1], now)
    cur, first_seen = store.read_with_first_seen(*current)
    if base is None or cur is None:
        return []
    segs = {("request_model", v): store.read(*current, segment=("request_model", v))
            for v in store.segments().get("request_model", [])}
    found = model_version_findings(store, current, base, cur, first_seen.get("model_version", {}),
                                   {s: v for s, v in segs.items() if v is not None})
    return [f for f in found if f.severity == "alert"]
