"""The comparison of two golden runs as JSON (``golden compare --json``), for CI and scripts."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional, Sequence

from .compare import Comparison

SCHEMA = "agenttrace.golden.compare/1"


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def to_json(comparison: Comparison, gates: Sequence = (), url: Optional[str] = None) -> dict:
    c = comparison
    return _clean({
        "schema": SCHEMA, "suite": c.base.suite, "base": c.base.run, "candidate": c.candidate.run,
        "alpha": c.alpha, "min_effect_sd": c.min_effect_sd, "regressions": c.regressions,
        "refusal_rate": {"base": c.refusal_rate[0], "candidate": c.refusal_rate[1]},
        "evaluators": [asdict(e) for e in c.evaluators],
        "examples": [asdict(x) for x in c.examples if x.verdict != "unchanged"],
        "gates": [asdict(g) for g in gates], "passed": all(g.passed for g in gates),
        "phoenix_compare_url": url, "notes": list(c.notes)})


def write_json(comparison: Comparison, path: Path, gates: Sequence = (), url: Optional[str] = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(comparison, gates, url), indent=1) + "\n", encoding="utf-8")
    return path
