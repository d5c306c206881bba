"""Drift rules: a baseline window against a current window, per segment, on whylogs profiles.

:func:`detect` reads the merged profile of each segment (the overall segment ``*`` and every value
of every segment key) for both windows and applies six rules:

``distribution_drift`` (annotation ``distribution_drift``)
    Each numeric feature and score: whylogs' KS test on the two KLL sketches
    (``whylogs.viz.drift.column_drift_algorithms.KS``, 100 quantiles), with whylogs' thresholds
    (p < 0.05 DRIFT → alert, p < 0.15 POSSIBLE_DRIFT → warning). whylogs' Hellinger distance is
    reported beside it. Two guards make those thresholds usable on many segments and on millions of
    rows:

    - *multiple testing*: one run makes a few hundred tests (every feature in every segment, for
      every rule). At p < 0.05 each, stationary traffic would raise a dozen alerts per run. So every
      p-value is Bonferroni-adjusted for the number of statistical tests in the run (all rules, all
      segments; reported as ``p_adjusted`` and ``tests``) before whylogs' thresholds are applied:
      the chance that a run on unchanged traffic raises any statistical alert is at most 5% (measured
      on the synthetic traffic of the tests: 1 run in 200). ``adjust=False`` applies the thresholds to
      each test alone.
    - *effect size*: with 100,000 rows a KS test flags a 1% shift (and the sketches' own rank error,
      ~0.3%, is of that order). A finding also needs KS D ≥ ``min_ks_statistic`` (default 0.1: the two
      cumulative distributions differ by ten percentage points somewhere). Significant changes below
      the effect threshold are counted in the notes, not reported.

    0/1 features (``error``, ``retry_exhausted``, custom flags) are compared as rates instead: KS is
    far too weak for rare events (0.8% → 5% errors is D = 0.04), so they use Fisher's exact test and
    need a relative change ≥ ``rate_rel`` and an absolute one ≥ ``rate_abs``. The categorical
    ``error_type`` and ``request_model`` use the chi-squared test described under trajectory shape.
    ``step_count`` belongs to trajectory shape and ``refusal_flagged`` to the refusal rule.

``score_shift`` (annotation ``score_shift``)
    Evaluation scores (``refusal_similarity``, ``relevance``, any ``*_similarity``): alert when the
    mean moved by ≥ ``score_shift_sd`` baseline standard deviations *and* the move is significant
    (Welch z-test on the profiles' means and variances, adjusted as above, whylogs' thresholds).
    Scores exist only on scored runs; their own counts are used.

``refusal_rate`` (annotation ``refusal_rate_alert``)
    Rate = mean of ``refusal_flagged``. Nothing below ``refusal_abs`` (0.5%). Above it: if the rate
    rose by ≥ ``refusal_provider_rel`` (+50%) → alert "check the provider's model updates"; by
    ≥ ``refusal_audit_rel`` (+20%) → alert "audit the prompt"; the rise must be significant (one-sided
    Fisher exact test, adjusted as above; p < 0.15 only → warning). A rate above
    ``refusal_abs`` that did not rise (it was as high in the baseline) is a known condition, not a
    change: warning "investigate refusals", if it is significantly above ``refusal_abs`` (one-sided
    binomial test). Small-sample noise (3 refusals in 200 runs) therefore never alerts.

``trajectory_shape`` (annotation ``trajectory_drift``)
    ``tool_sequence`` and ``route_path``: chi-squared test of homogeneity on the 2 × k table of
    value counts from the frequent-items sketches (exact for low cardinality), values expected fewer
    than 5 times pooled into one cell, plus the total variation distance between the two value
    mixes as effect size (≥ ``min_category_shift``). ``step_count``: KS as above. whylogs'
    own ``ChiSquare`` is not used: it compares the current counts against
    ``int(baseline share × current total)``, which is 0 for any value rarer than one in the
    current total, and then returns p = 0 (DRIFT) — on stationary traffic with a long tail of
    tool sequences it fires on almost every run (``tests/test_drift_rules.py`` shows it).

``model_version_change`` (annotation ``model_version_change``)
    A ``request → response (fingerprint)`` pair in the current window that the baseline never had,
    for a requested model the baseline had (the alias problem: same name, new model or fingerprint)
    → alert with ``first_seen``, the earliest row timestamp with that pair (writers record it
    exactly). A requested model the baseline never had → info. Reported once, on the overall segment,
    with the segment values it appears in.

``retries`` (annotation ``retry_cascade``)
    Retry amplification (attempts per logical model call, from the sums of ``llm_calls`` and
    ``retry_count``; one-sided Welch z-test on retries per run, effect ≥ ``amplification_rel``) and
    the exhausted-retry rate (one-sided Fisher exact test, effect as for other rates), rises only;
    it replaces the ``distribution_drift`` finding of ``retry_count`` / ``retry_exhausted`` in
    its segment. ``agenttrace retries`` then clusters the failures by cause.

Findings are ranked alerts first, then warnings, then info, then by ``score`` (the effect divided
by its threshold: 1 = at the threshold; for model version changes 1 + 10 × the share of the
alias's current traffic), the overall segment before segment values. A score feature that has a
``score_shift`` finding in a segment does not also get a ``distribution_drift`` finding there.
Baseline and current windows must not overlap.

Each finding has a one-line ``message`` (the numbers of both sides; segment, p-values and the
number of tests are in its fields and ``stats``) and a ``selector``: which runs show it (the runs
with a flagged reply, the runs the new version answered, the tail of a distribution that moved,
the tool sequences that grew), for annotating those runs in Phoenix. The findings are grouped into
incidents by probable cause (``incidents.group``): ``DriftResult.incidents``.

Modules: ``config`` (DriftConfig, DriftError), ``results`` (Finding, DriftResult), ``stats``
(column statistics and tests), ``rule_base`` (the rules' interface: a segment's two windows'
profiles and the config in, candidate findings out), one module per statistical rule
(``rule_distribution``, ``rule_score_shift``, ``rule_refusal``, ``rule_shape``, ``rule_retries``),
``detector`` (runs them per segment, adjusts and decides), ``model_versions`` (the alias rule),
``incidents``; this module runs them (:func:`detect`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from whylogs.core.view import DatasetProfileView

from agenttrace.trajectory import CATEGORICAL_FEATURES, NUMERIC_FEATURES, SCORE_FEATURES

from .config import DriftConfig, DriftError
from .detector import IGNORED, Detector, rank
from .model_versions import model_version_findings
from .incidents import group
from .results import ANNOTATIONS, RULES, SEVERITIES, DriftResult, Finding, iso, seg_id, span_text
from .store import OVERALL, ProfileStore, rows, utc

__all__ = ["ANNOTATIONS", "RULES", "SEVERITIES", "DriftConfig", "DriftError", "DriftResult", "Finding", "detect"]


def detect(store: ProfileStore, *, end: Optional[datetime] = None, config: DriftConfig = DriftConfig(),
           baseline: Optional[tuple[datetime, datetime]] = None,
           current: Optional[tuple[datetime, datetime]] = None) -> DriftResult:
    """Compare the baseline window with the current window, per segment; see the module docstring.

    Defaults: ``current`` = [end − config.current, end), ``baseline`` = the ``config.baseline``
    before it; ``end`` = the end of the store's last window. Raises :class:`DriftError` (one-line
    message) for a missing or empty store, a window without data, an unknown segment key or feature.
    """
    if not store.root.is_dir():
        raise DriftError(f"no profile store at {store.root}: the directory does not exist "
                         "(write profiles first, or build them from Phoenix spans)")
    span = store.time_range()
    if span is None:
        raise DriftError(f"the profile store at {store.root} holds no profiles yet (nothing has been flushed to it)")
    have = f"the store has data from {iso(span[0])} to {iso(span[1])}"
    end = utc(end) if end is not None else span[1]
    if current is not None:
        current = (utc(current[0]), utc(current[1]))
    else:
        current = (end - config.current, end)
    if baseline is not None:
        baseline = (utc(baseline[0]), utc(baseline[1]))
    else:
        baseline = (current[0] - config.baseline, current[0])
    for name, r in (("baseline", baseline), ("current", current)):
        if not r[0] < r[1]:
            raise DriftError(f"the {name} window {span_text(r)} is empty: its start must be before its end")
    if baseline[0] < current[1] and current[0] < baseline[1]:
        raise DriftError(f"the baseline window {span_text(baseline)} overlaps the current window {span_text(current)}: "
                         "runs in both would be compared with themselves")

    known = store.segments()
    keys = list(known) if config.segment_keys is None else list(config.segment_keys)
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise DriftError(f"unknown segment key {', '.join(repr(k) for k in unknown)}; the store has: "
                         f"{', '.join(known) or 'no segment keys (overall only)'}")

    base_all, _ = store.read_with_first_seen(*baseline)
    if base_all is None:
        raise DriftError(f"no data in the baseline window {span_text(baseline)}; {have}")
    cur_all, first_seen = store.read_with_first_seen(*current)
    if cur_all is None:
        raise DriftError(f"no data in the current window {span_text(current)}; {have}")

    if config.features is not None:
        names = set(NUMERIC_FEATURES) | set(SCORE_FEATURES) | set(CATEGORICAL_FEATURES) | set(base_all.get_columns()) | set(cur_all.get_columns())
        bad = [f for f in config.features if f not in names]
        if bad:
            raise DriftError(f"unknown feature {', '.join(repr(f) for f in bad)}; known features: {', '.join(sorted(names - set(IGNORED)))}")

    det = Detector(store, config, baseline, current)
    seg_views: dict[tuple[str, str], DatasetProfileView] = {}
    evaluated = 0
    skipped: list[str] = []
    segment_rows: dict[str, list[int]] = {}
    segments = [OVERALL] + [(k, v) for k in keys for v in known[k]]
    for seg in segments:
        if seg == OVERALL:
            b, c = base_all, cur_all
        else:
            b, c = store.read(*baseline, segment=seg), store.read(*current, segment=seg)
            if c is not None:
                seg_views[seg] = c
        nb, nc = rows(b), rows(c)
        segment_rows[seg_id(seg)] = [nb, nc]
        if b is None or c is None or nb < config.min_rows or nc < config.min_rows:
            skipped.append(seg_id(seg))
            continue
        evaluated += 1
        det.segment(seg, b, c)
    if config.features is None or "model_version" in config.features:
        det.findings.extend(model_version_findings(store, current, base_all, cur_all,
                                                   first_seen.get("model_version", {}), seg_views,
                                                   config.golden_suites))
    tests = det.finish()

    notes: list[str] = []
    if skipped:
        notes.append(f"{len(skipped)} segment(s) skipped: fewer than {config.min_rows} runs on a side")
    for feature, n in sorted(det.sparse.items()):
        notes.append(f"{feature}: not tested in {n} segment(s) with fewer than {config.min_rows} values on a side")
    if det.below_effect:
        notes.append(f"{len(det.below_effect)} significant change(s) below the effect-size thresholds, not reported")
    for line in store.problems:
        notes.append(f"profile store: {line}")
    findings = sorted(det.findings, key=rank)
    return DriftResult(findings, baseline, current, rows(base_all), rows(cur_all), notes, tests, evaluated,
                       incidents=group(findings, segment_rows, skipped), segment_rows=segment_rows, skipped=skipped,
                       below_effect=[{"rule": r, "segment": s, "feature": f} for r, s, f in det.below_effect])
