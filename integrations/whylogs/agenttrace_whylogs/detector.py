"""Runs the drift rules on each segment and decides: every rule (``rule_base.Rule``: the two
windows' profiles of a segment and the config in, candidate findings out) adds candidates;
:meth:`Detector.finish` adjusts their p-values for the number of tests in the run and turns them
into findings."""

from __future__ import annotations

from datetime import datetime

from whylogs.core.view import DatasetProfileView
from whylogs.viz.drift.configs import ChiSquareConfig, KSTestConfig

from .config import DriftConfig
from .results import ANNOTATIONS, SEVERITIES, Finding, seg_id
from .rule_base import Candidate, Rule, SegmentInput
from .rule_distribution import DistributionDrift
from .rule_refusal import RefusalRate
from .rule_retries import COVERS, Retries
from .rule_score_shift import ScoreShift
from .rule_shape import TrajectoryShape
from .stats import category
from .store import OVERALL, ProfileStore

# whylogs' drift categories → severity
SEVERITY_OF_CATEGORY = {"DRIFT": "alert", "POSSIBLE_DRIFT": "warning", "NO_DRIFT": "info"}
IGNORED = ("timestamp",)
# the statistical rules, in the order their candidates are made for a column
RULE_CLASSES: tuple[type, ...] = (TrajectoryShape, RefusalRate, DistributionDrift, ScoreShift, Retries)


class Detector:
    def __init__(self, store: ProfileStore, config: DriftConfig, baseline: tuple[datetime, datetime],
                 current: tuple[datetime, datetime]) -> None:
        self.store, self.cfg = store, config
        self.baseline, self.current = baseline, current
        self.rules: list[Rule] = [cls() for cls in RULE_CLASSES]
        self.candidates: list[Candidate] = []
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self.below_effect: list[tuple[str, str, str]] = []
        self.sparse: dict[str, int] = {}
        self.quiet_tests: dict[str, int] = {}  # tests made that cannot produce a finding (refusal rate below refusal_abs)

    def wanted(self, feature: str) -> bool:
        return self.cfg.features is None or feature in self.cfg.features

    def segment(self, seg, base: DatasetProfileView, cur: DatasetProfileView) -> None:
        base_cols, cur_cols = base.get_columns(), cur.get_columns()
        names = [c for c in cur_cols if c in base_cols and c not in IGNORED and self.wanted(c)]
        inp = SegmentInput(seg, base_cols, cur_cols, names, self.cfg, self.sparse, self.quiet_tests)
        made = [c for rule in self.rules for c in rule.evaluate(inp)]
        # column order, then rule order (a score column: distribution drift before score shift)
        order = {name: i for i, name in enumerate(names)}
        self.candidates.extend(sorted(made, key=lambda c: order.get(c.feature, len(names))))

    def finish(self) -> dict[str, int]:
        """Adjust p-values for the tests of the run, decide severities, turn candidates into findings."""
        tests: dict[str, int] = dict(self.quiet_tests)
        for c in self.candidates:
            tests[c.rule] = tests.get(c.rule, 0) + 1
        shifted = set()
        ks_cfg, chi_cfg = KSTestConfig().thresholds, ChiSquareConfig().thresholds
        kept: list[tuple[Candidate, str, float]] = []
        m = sum(tests.values()) if self.cfg.adjust else 1
        for c in self.candidates:
            p_adj = min(1.0, c.p * m)
            drift_category = category(p_adj, ks_cfg if c.stats.get("test", "").startswith("ks") else chi_cfg)
            severity = SEVERITY_OF_CATEGORY[drift_category]
            if severity == "info":
                continue
            if not c.effect_ok:
                self.below_effect.append((c.rule, seg_id(c.segment), c.feature))
                continue
            if c.severity_cap == "warning":
                severity = "warning"
            c.stats.update(p_adjusted=p_adj, tests=m, category=drift_category)
            kept.append((c, severity, p_adj))
            if c.rule == "score_shift":
                shifted.add((c.segment, c.feature))
            elif c.rule == "retries":
                shifted.update((c.segment, f) for f in COVERS.get(c.feature, ()))
        for c, severity, p_adj in kept:
            if c.rule == "distribution_drift" and (c.segment, c.feature) in shifted:
                continue  # the score_shift (retries) finding says it, with the numbers that matter for it
            self.findings.append(Finding(c.rule, severity, c.segment[0], c.segment[1], c.feature, round(float(c.score), 4),
                                         c.message, c.action, ANNOTATIONS[c.rule], c.baseline, c.current, self.current,
                                         None, c.stats, c.selector))
        return tests


def rank(f: Finding) -> tuple:
    return (SEVERITIES.index(f.severity), -f.score, (f.segment_key, f.segment_value) != OVERALL,
            f.rule, f.segment_key, f.segment_value, f.feature)
