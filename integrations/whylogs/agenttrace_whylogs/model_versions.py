"""The ``model_version_change`` rule: a ``request → response (fingerprint)`` pair in the current
window that the baseline never had (the alias problem: same name, another model behind it)."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Optional

from whylogs.core.view import DatasetProfileView

from .results import ANNOTATIONS, Finding, iso
from .stats import value_counts
from .store import ProfileStore


def model_version_findings(store: ProfileStore, current: tuple[datetime, datetime], base_view: DatasetProfileView,
                           cur_view: DatasetProfileView, first_seen: dict[str, datetime],
                           seg_views: dict[tuple[str, str], DatasetProfileView]) -> list[Finding]:
    """The ``model_version_change`` findings of the current window (see the rules' module docstring)."""
    findings: list[Finding] = []
    base, _ = value_counts(base_view.get_column("model_version"))
    cur, _ = value_counts(cur_view.get_column("model_version"))
    if not cur:
        return findings

    def pairs(value: str) -> list[str]:
        # "req → resp (fp)" per distinct pair, ";"-joined; a cut-off last pair (sketch item size) is dropped
        return [p.strip() for p in value.split(";") if p.strip().endswith(")") and " → " in p]

    def parse(pair: str) -> tuple[str, str, str]:
        req, _, rest = pair.partition(" → ")
        resp, _, fp = rest.rpartition(" (")
        return req, resp, fp.rstrip(")")

    base_pairs = {p for v in base for p in pairs(v)}
    base_requests: dict[str, dict[str, int]] = {}
    for v, c in base.items():
        for p in pairs(v):
            base_requests.setdefault(parse(p)[0], {}).setdefault(p, 0)
            base_requests[parse(p)[0]][p] += c
    req_counts: dict[str, int] = {}
    pair_counts: dict[str, int] = {}
    for v, c in cur.items():
        ps = pairs(v)
        for p in ps:
            pair_counts[p] = pair_counts.get(p, 0) + c
        for req in {parse(p)[0] for p in ps}:
            req_counts[req] = req_counts.get(req, 0) + c
    for pair in sorted(p for p in pair_counts if p not in base_pairs):
        req, resp, fp = parse(pair)
        share = pair_counts[pair] / req_counts[req] if req_counts.get(req) else 0.0
        seen = [t for v, t in first_seen.items() if pair in pairs(v)]
        first = min(seen) if seen else _first_window(store, current, pair, pairs)
        where = {}
        for seg, view in seg_views.items():
            counts, _ = value_counts(view.get_column("model_version"))
            n = sum(c for v, c in counts.items() if pair in pairs(v))
            if n:
                where[f"{seg[0]}={seg[1]}"] = n
        cs = {"value": pair, "request_model": req, "response_model": resp, "fingerprint": fp, "rows": pair_counts[pair],
              "share": share, "segments": dict(sorted(where.items(), key=lambda x: -x[1])[:10])}
        known = base_requests.get(req)
        if known:
            previous = sorted(known, key=lambda p: -known[p])
            old_resp = {parse(p)[1] for p in previous}
            what = "a new response model" if resp not in old_resp else "a new fingerprint"
            bs = {"versions": [[p, known[p]] for p in previous]}
            msg = (f"{req} is answered by {resp} ({fp}), {what} not seen in the baseline (had: {', '.join(previous[:3])}); "
                   f"first seen {iso(first) if first else 'in the current window'}, {share:.0%} of current {req} rows "
                   f"({pair_counts[pair]})")
            findings.append(Finding("model_version_change", "alert", "*", "*", "model_version", 1 + 10 * share, msg,
                                         "check the provider's model updates; pin the model version or re-run your evaluations",
                                         ANNOTATIONS["model_version_change"], bs, cs, current, first,
                                         {"test": "new value (frequent items)", "effect": share}))
        else:
            msg = (f"new requested model {req} (answered by {resp} ({fp})): not in the baseline; "
                   f"first seen {iso(first) if first else 'in the current window'}, {pair_counts[pair]} rows")
            findings.append(Finding("model_version_change", "info", "*", "*", "model_version", share, msg,
                                         "confirm the application is meant to use this model",
                                         ANNOTATIONS["model_version_change"], {"versions": []}, cs, current, first,
                                         {"test": "new value (frequent items)", "effect": share}))
    return findings


def _first_window(store: ProfileStore, current: tuple[datetime, datetime], pair: str,
                  pairs: Callable[[str], list[str]]) -> Optional[datetime]:
    """Fallback when writers recorded no first-seen times: the first current window containing the pair."""
    for start, view in store.read_windows(*current):
        values, _ = value_counts(view.get_column("model_version"))
        if any(pair in pairs(v) for v in values):
            return start
    return None
