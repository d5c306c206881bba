"""The drift rules' interface: a rule gets the two windows' profiles of one segment and the config
(:class:`SegmentInput`) and returns candidate findings (:class:`Candidate`); the detector
(``detector.Detector.finish``) adjusts their p-values for the number of tests in the run and turns
them into findings. One module per rule: ``rule_distribution``, ``rule_score_shift``,
``rule_refusal``, ``rule_shape``, ``rule_retries`` (``model_versions`` works on the whole store)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Protocol

from whylogs.core.view import ColumnProfileView

from agenttrace.trajectory import CATEGORICAL_FEATURES, SCORE_FEATURES, is_judge_score

from .config import DriftConfig
from .stats import distribution_of, numeric_stats, tail_cut

MAX_SCORE = 100.0
SHAPE_FEATURES = ("tool_sequence", "route_path", "step_count")
MODEL_FEATURES = ("request_model", "response_model", "fingerprint", "model_version")


@dataclass
class Candidate:
    """A test result before multiple-testing adjustment decides its severity."""

    rule: str
    segment: tuple[str, str]
    feature: str
    p: float
    effect_ok: bool
    score: float
    message: str                           # one line: the numbers on both sides (segment, p and tests are in the JSON)
    action: str
    baseline: dict
    current: dict
    stats: dict
    severity_cap: str = "alert"            # the worst severity this test may get
    selector: Optional[dict] = None        # Finding.selector: which runs show it


@dataclass
class SegmentInput:
    """What a rule sees: one segment's baseline and current columns (the features both windows
    have, in profile order, filtered by ``config.features``), the config, and the run's counters."""

    segment: tuple[str, str]
    base: dict[str, ColumnProfileView]
    cur: dict[str, ColumnProfileView]
    names: list[str]
    config: DriftConfig
    sparse: dict[str, int] = field(default_factory=dict)       # feature → segments with too few values
    quiet_tests: dict[str, int] = field(default_factory=dict)  # tests made that cannot produce a finding

    def enough(self, feature: str, base_col, cur_col) -> Optional[tuple[dict, dict]]:
        """Both sides' numeric stats, or None (counted as sparse) when a side has < min_rows values."""
        bs, cs = numeric_stats(base_col), numeric_stats(cur_col)
        if bs["n"] < self.config.min_rows or cs["n"] < self.config.min_rows:
            if bs["n"] or cs["n"]:
                self.sparse[feature] = self.sparse.get(feature, 0) + 1
            return None
        return bs, cs


def kind(feature: str, inp: SegmentInput) -> str:
    """Which rule family looks at a column: ``model`` (the model version rule, not here), ``shape``,
    ``refusal``, ``categorical`` or ``numeric`` (distribution drift), ``""`` (no sketch to test)."""
    b, k = inp.base[feature], inp.cur[feature]
    if feature in MODEL_FEATURES[1:]:
        return "model"
    if feature in SHAPE_FEATURES:
        return "shape"
    if feature == "refusal_flagged":
        return "refusal"
    if feature in CATEGORICAL_FEATURES or (k.get_metric("frequent_items") is not None and distribution_of(k) is None):
        return "categorical"
    if distribution_of(b) is not None or distribution_of(k) is not None:
        return "numeric"
    return ""


def is_score(feature: str) -> bool:
    return feature in SCORE_FEATURES or feature.endswith("_similarity") or is_judge_score(feature)


class Rule(Protocol):
    """A drift rule: ``name`` is its ``Finding.rule``."""

    name: str

    def evaluate(self, inp: SegmentInput) -> list[Candidate]: ...


def relative(rel: float) -> str:
    return "new" if math.isinf(rel) else f"{rel:+.0%}"


def tail(feature: str, base_col, cur_col, up: Optional[bool] = None) -> Optional[dict]:
    """The selector of the runs in the tail that moved (beyond the KS statistic's point); ``up``
    forces the side (a score whose mean rose: the runs above the point)."""
    cut = tail_cut(base_col, cur_col)
    if cut is None:
        return None
    op, x = cut
    if up is not None:
        op = ">" if up else "<="
    return {"feature": feature, "op": op, "value": x, "score": feature}
