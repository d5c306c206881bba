"""The ``model_version_change`` rule: a ``request → response (fingerprint)`` pair in the current
window that the baseline never had (the alias problem: same name, another model behind it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Optional, Sequence

from whylogs.core.view import DatasetProfileView

from .golden_action import action as golden_action
from .golden_action import golden_lines
from .results import ANNOTATIONS, Finding
from .stats import value_counts
from .store import ProfileStore


def model_version_findings(store: ProfileStore, current: tuple[datetime, datetime], base_view: DatasetProfileView,
                           cur_view: DatasetProfileView, first_seen: dict[str, datetime],
                           seg_views: dict[tuple[str, str], DatasetProfileView],
                           suites: Sequence[Any] = ()) -> list[Finding]:
    """The ``model_version_change`` findings of the current window (see the rules' module docstring);
    an alias's change names the golden suite commands (``golden_action``) of ``suites`` in its action
    and in ``current["golden"]``."""
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
              "share": share, "segments": dict(sorted(where.items(), key=lambda x: (-x[1], x[0])))}
        when = f"from {first:%Y-%m-%d %H:%M}" if first else "in the current window"
        selector = {"feature": "model_version", "op": "contains", "value": pair}
        known = base_requests.get(req)
        if known:
            previous = sorted(known, key=lambda p: -known[p])
            _, old, old_fp = parse(previous[0])
            new_model = resp not in {parse(p)[1] for p in previous}
            bs = {"versions": [[p, known[p]] for p in previous], "response_model": old, "fingerprint": old_fp}
            cs["new"] = "response model" if new_model else "fingerprint"
            answer, was = (resp, old) if new_model else (f"{resp} ({fp})", f"{old} ({old_fp})")
            msg = f"{req} → {answer} {when} ({share:.0%} of its runs; was {was})"
            cs["golden"] = golden_lines(req, old, resp, cs["segments"], suites)
            cs["golden_versions"] = [req, old, resp]
            action = golden_action(req, old, resp, cs["golden"], any(s.matches(cs["segments"]) for s in suites))
            findings.append(Finding("model_version_change", "alert", "*", "*", "model_version", 1 + 10 * share, msg,
                                    action, ANNOTATIONS["model_version_change"], bs, cs, current, first,
                                    {"test": "new value (frequent items)", "effect": share}, selector))
        else:
            msg = f"new requested model {req} (answered by {resp}) {when}, {pair_counts[pair]} runs"
            findings.append(Finding("model_version_change", "info", "*", "*", "model_version", share, msg,
                                    "confirm the application is meant to use this model",
                                    ANNOTATIONS["model_version_change"], {"versions": []}, cs, current, first,
                                    {"test": "new value (frequent items)", "effect": share}, selector))
    return findings


def _first_window(store: ProfileStore, current: tuple[datetime, datetime], pair: str,
                  pairs: Callable[[str], list[str]]) -> Optional[datetime]:
    """Fallback when writers recorded no first-seen times: the first current window containing the pair."""
    for start, view in store.read_windows(*current):
        values, _ = value_counts(view.get_column("model_version"))
        if any(pair in pairs(v) for v in values):
            return start
    return None
