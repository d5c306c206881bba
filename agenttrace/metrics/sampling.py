"""Deterministic, stratified sampling of trajectories for heavy metrics.

A trajectory (trace) is decided once, on its first step that a profile covers, and the decision is
kept for every later step of the same trace: a sampled trajectory is scored at every step its
profile covers. The decision hashes the trace id, so it is reproducible and the same in every
process. Strata (prompt template × segment × ...) each get their share: the first
``min_per_stratum`` trajectories of every stratum are always taken, so rare strata are never
starved by a low rate, then the stratum is sampled at ``sample_rate``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Mapping

from .profiles import Profile


def stratum_of(profile: Profile, step: Mapping[str, Any]) -> tuple:
    key = []
    for path in profile.stratify_by:
        if path.startswith("metadata."):
            key.append(str((step.get("metadata") or {}).get(path[len("metadata."):])))
        else:
            key.append(str(step.get(path)))
    return tuple(key)


def unit_hash(trace_id: int, salt: str) -> float:
    digest = hashlib.blake2b(f"{trace_id:032x}/{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class StratifiedSampler:
    def __init__(self, max_traces: int = 100_000):
        self._decisions: "OrderedDict[tuple, bool]" = OrderedDict()
        self._seen: dict[tuple, int] = {}
        self._taken: dict[tuple, int] = {}
        self._lock = threading.Lock()
        self._max = max_traces

    def sampled(self, profile: Profile, trace_id: int, step: Mapping[str, Any]) -> bool:
        if profile.sample_rate >= 1.0:
            return True
        key = (profile.name, trace_id)
        with self._lock:
            decision = self._decisions.get(key)
            if decision is not None:
                return decision
            stratum = (profile.name,) + stratum_of(profile, step)
            seen = self._seen.get(stratum, 0)
            self._seen[stratum] = seen + 1
            decision = seen < profile.min_per_stratum or unit_hash(trace_id, profile.name) < profile.sample_rate
            if decision:
                self._taken[stratum] = self._taken.get(stratum, 0) + 1
            self._decisions[key] = decision
            if len(self._decisions) > self._max:
                self._decisions.popitem(last=False)
            return decision

    def shares(self) -> dict[tuple, tuple[int, int]]:
        """stratum → (trajectories seen, trajectories sampled)."""
        with self._lock:
            return {s: (n, self._taken.get(s, 0)) for s, n in self._seen.items()}
