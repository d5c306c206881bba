"""The drift result as a JSON document (``--json``)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .report import _utc, severity_counts


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def _finite(value: Any) -> Any:
    """NaN and infinities → None, so the file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _iso(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as the findings' own times."""
    return _utc(value).isoformat().replace("+00:00", "Z")


def report_dict(result: Any) -> dict:
    """The JSON report: ``incidents`` (the findings grouped by probable cause, ranked), ``meta``
    (windows, row counts, notes, counts by severity, segments skipped, changes below the effect
    sizes) and ``findings`` (ranked)."""
    from agenttrace import __version__

    return {
        "incidents": [i.to_dict() for i in getattr(result, "incidents", [])],
        "meta": {
            "generated_at": _iso(datetime.now(timezone.utc)),
            "agenttrace_version": __version__,
            "baseline": {"start": _iso(result.baseline[0]), "end": _iso(result.baseline[1]), "rows": result.rows_baseline},
            "current": {"start": _iso(result.current[0]), "end": _iso(result.current[1]), "rows": result.rows_current},
            "counts": severity_counts(result.findings),
            "notes": list(result.notes),
            "skipped": result.to_dict()["skipped"] if hasattr(result, "skipped") else [],
            "below_effect": list(getattr(result, "below_effect", [])),
        },
        "findings": [f.to_dict() for f in result.findings],
    }


def report_text(result: Any) -> str:
    """The JSON report as text (strict JSON: no NaN)."""
    return json.dumps(_finite(report_dict(result)), indent=2, default=_json_default, allow_nan=False)


def to_json(result: Any, path: str | Path) -> Path:
    """Write the JSON report to ``path`` (parent directories are created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_text(result) + "\n", encoding="utf-8")
    return path
