"""Synthetic agent traffic for the drift tests and ``benchmarks/drift_profiling.py``.

:func:`generate` returns :class:`agenttrace.trajectory.Trajectory` rows that look like what the
profiling worker produces for a small customer-support deployment: three agents, four prompt
templates, customer segments and client categories, two requested models (aliases) each answered
by a pinned response model with a system fingerprint. Metric scores are present on a sampled
fraction of the runs only (heavy metrics are sampled; the rest of the row is always there).

Every kind of drift the rules look for can be injected, optionally only for rows of one segment
(``where={"prompt_template": "returns_v2"}``):

- ``refusal_rate``: probability that a run is flagged as a refusal;
- ``tool_mix`` / ``route_mix``: ``{sequence: weight}`` (or ``{agent: {sequence: weight}}``) for the
  tool-call sequence / the route path taken;
- ``score_shift``: shift of the relevance score, in standard deviations of the relevance score;
- ``latency_scale``: multiplies latency;
- ``output_scale``: multiplies the output tokens (longer or shorter replies);
- ``error_rate``: probability that a run fails;
- ``new_model_at``: from that time on, the ``gpt-4o`` alias is answered by a new model version with a
  new fingerprint (the alias problem; applies to every segment).

The generator is vectorised with numpy so the benchmark can build 1,000,000 rows in seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Mapping, Optional, Sequence, Union

import numpy as np

from agenttrace.trajectory import Trajectory

if TYPE_CHECKING:
    from agenttrace_whylogs import ProfileStore

AGENTS = {"support": 0.5, "sales": 0.3, "billing": 0.2}
TEMPLATES = {"support": {"support_v3": 0.7, "returns_v2": 0.3}, "sales": {"sales_v1": 1.0}, "billing": {"billing_v4": 1.0}}
SEGMENTS = {"smb": 0.5, "mid_market": 0.3, "enterprise": 0.2}
CLIENT_CATEGORIES = {"retail": 0.4, "travel": 0.25, "finance": 0.2, "health": 0.15}
REQUEST_MODELS = {"gpt-4o-mini": 0.7, "gpt-4o": 0.3}
# request model (alias) -> (response model, system fingerprint)
RESPONSE_MODELS = {"gpt-4o-mini": ("gpt-4o-mini-2024-07-18", "fp_0aa8d3e20b"), "gpt-4o": ("gpt-4o-2024-08-06", "fp_45cf54deae")}
NEW_MODEL = ("gpt-4o", "gpt-4o-2024-11-20", "fp_7fcd609668")  # what the gpt-4o alias moves to at new_model_at
TOOL_MIX = {
    "support": {"order_status": 0.35, "order_status>start_return": 0.2, "search_kb": 0.25, "": 0.15,
                "search_kb>order_status": 0.04, "order_status>start_return>notify": 0.01},
    "sales": {"search_catalog": 0.5, "search_catalog>quote": 0.3, "": 0.18, "search_catalog>quote>discount": 0.02},
    "billing": {"get_invoice": 0.6, "get_invoice>refund": 0.15, "": 0.24, "get_invoice>refund>notify": 0.01},
}
ROUTE_MIX = {
    "support": {"triage>agent": 0.75, "triage>faq": 0.15, "triage>human": 0.1},
    "sales": {"triage>agent": 0.9, "triage>human": 0.1},
    "billing": {"triage>agent": 0.8, "triage>faq": 0.12, "triage>human": 0.08},
}
ERROR_TYPES = {"RateLimitError": 0.6, "TimeoutError": 0.3, "ValidationError": 0.1}
SEGMENT_KEYS = ("agent", "prompt_template", "segment", "client_category", "request_model")
RELEVANCE_MEAN, RELEVANCE_SD = 0.62, 0.10

Mix = Union[Mapping[str, float], Mapping[str, Mapping[str, float]]]


def _choice(rng: np.random.Generator, mix: Mapping[str, float], size: int) -> np.ndarray:
    values = np.array(list(mix.keys()), dtype=object)
    p = np.array(list(mix.values()), dtype=float)
    return values[rng.choice(len(values), size=size, p=p / p.sum())]


def _per_agent(mix: Mix, agents: Sequence[str]) -> dict[str, Mapping[str, float]]:
    if all(isinstance(v, Mapping) for v in mix.values()):
        return {a: mix.get(a) for a in agents}  # type: ignore[misc]
    return {a: mix for a in agents}  # type: ignore[misc]


def _ts(value: Union[datetime, float]) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def generate(n: int, start: Union[datetime, float], end: Union[datetime, float], seed: int, *,
             refusal_rate: float = 0.003,
             tool_mix: Optional[Mix] = None,
             route_mix: Optional[Mix] = None,
             score_shift: float = 0.0,
             latency_scale: float = 1.0,
             output_scale: float = 1.0,
             error_rate: float = 0.008,
             new_model_at: Optional[datetime] = None,
             where: Optional[Mapping[str, str]] = None,
             changes: Sequence[tuple[Mapping[str, str], Mapping[str, object]]] = (),
             scored_fraction: float = 0.25,
             sort: bool = True) -> list[Trajectory]:
    """``n`` trajectories with end times uniform in [start, end).

    The change parameters (``refusal_rate``, ``tool_mix``, ``route_mix``, ``score_shift``,
    ``latency_scale``, ``output_scale``, ``error_rate``) apply to the rows matching every ``where`` segment value (all rows when
    ``where`` is None); the other rows get the stationary defaults. ``changes`` adds more such sets,
    ``[(where, {parameter: value}), ...]``, applied in order (a later set wins for a parameter both
    set on the same rows). ``new_model_at`` applies to every ``gpt-4o`` row ending at or after that time.
    """
    rng = np.random.default_rng(seed)
    t0, t1 = _ts(start), _ts(end)
    times = rng.uniform(t0, t1, size=n)
    if sort:
        times.sort()
    agent = _choice(rng, AGENTS, n)
    template = np.empty(n, dtype=object)
    for a, mix in TEMPLATES.items():
        idx = np.flatnonzero(agent == a)
        template[idx] = _choice(rng, mix, len(idx))
    segment = _choice(rng, SEGMENTS, n)
    category = _choice(rng, CLIENT_CATEGORIES, n)
    request = _choice(rng, REQUEST_MODELS, n)
    columns = {"agent": agent, "prompt_template": template, "segment": segment,
               "client_category": category, "request_model": request}

    def mask(condition: Optional[Mapping[str, str]]) -> np.ndarray:
        out = np.ones(n, dtype=bool)
        for key, value in (condition or {}).items():
            out &= columns[key] == value
        return out

    first = {"refusal_rate": refusal_rate, "tool_mix": tool_mix, "route_mix": route_mix, "score_shift": score_shift,
             "latency_scale": latency_scale, "output_scale": output_scale, "error_rate": error_rate}
    sets = [(mask(where), first)] + [(mask(w), dict(kw)) for w, kw in changes]
    unknown = {k for _, kw in sets for k in kw} - set(first)
    if unknown:
        raise TypeError(f"unknown change parameter(s): {sorted(unknown)}")

    def per_row(name: str, default: float) -> np.ndarray:
        out = np.full(n, default, dtype=float)
        for m, kw in sets:
            if kw.get(name) is not None:
                out[m] = float(kw[name])  # type: ignore[arg-type]
        return out

    def mixed(default: dict[str, Mapping[str, float]], name: str) -> np.ndarray:
        out = np.empty(n, dtype=object)
        for a in AGENTS:
            idx = np.flatnonzero(agent == a)
            out[idx] = _choice(rng, default[a], len(idx))
        for m, kw in sets:
            if kw.get(name) is None:
                continue
            custom = _per_agent(kw[name], list(AGENTS))  # type: ignore[arg-type]
            for a in AGENTS:
                if custom.get(a):
                    idx = np.flatnonzero((agent == a) & m)
                    out[idx] = _choice(rng, custom[a], len(idx))
        return out

    tools = mixed(TOOL_MIX, "tool_mix")
    routes = mixed(ROUTE_MIX, "route_mix")
    n_tools = np.array([len(s.split(">")) if s else 0 for s in tools], dtype=float)
    n_routes = np.array([len(s.split(">")) for s in routes], dtype=float)

    retries = rng.poisson(0.04, size=n).astype(float)
    exhausted = (rng.random(n) < 0.002).astype(float)
    error = (rng.random(n) < per_row("error_rate", 0.008)).astype(float)
    error_type = np.where(error > 0, _choice(rng, ERROR_TYPES, n), "").astype(object)
    refused = (rng.random(n) < per_row("refusal_rate", 0.003)).astype(float)
    steps = n_routes + 2.0 * n_tools + retries + (rng.random(n) < 0.1)
    llm_calls = 1.0 + n_tools + retries
    latency = np.round(rng.lognormal(np.log(900.0 * (1.0 + 0.8 * n_tools)), 0.35) * per_row("latency_scale", 1.0), 3)
    input_tokens = np.maximum(20, np.round(rng.normal(600 + 350 * n_tools, 120)))
    output_tokens = np.maximum(5, np.round(rng.normal(180, 60, n) * per_row("output_scale", 1.0)))

    scored = rng.random(n) < scored_fraction
    shift = per_row("score_shift", 0.0) * RELEVANCE_SD
    relevance = np.clip(np.where(refused > 0, rng.normal(0.35, 0.08, n), rng.normal(RELEVANCE_MEAN, RELEVANCE_SD, n)) + shift, -1, 1)
    refusal_sim = np.clip(np.where(refused > 0, rng.normal(0.72, 0.06, n), rng.normal(0.28, 0.07, n)), 0, 1)

    response = np.empty(n, dtype=object)
    fingerprint = np.empty(n, dtype=object)
    for req, (resp, fp) in RESPONSE_MODELS.items():
        idx = request == req
        response[idx], fingerprint[idx] = resp, fp
    if new_model_at is not None:
        idx = (request == NEW_MODEL[0]) & (times >= _ts(new_model_at))
        response[idx], fingerprint[idx] = NEW_MODEL[1], NEW_MODEL[2]

    trace_ids = rng.integers(0, 2**63, size=(n, 2))
    out: list[Trajectory] = []
    for i in range(n):
        req, resp, fp = request[i], response[i], fingerprint[i]
        feats = {
            "step_count": steps[i], "llm_calls": llm_calls[i], "tool_calls": n_tools[i], "retry_count": retries[i],
            "retry_exhausted": exhausted[i], "error": error[i], "refusal_flagged": refused[i], "latency_ms": latency[i],
            "input_tokens": input_tokens[i], "output_tokens": output_tokens[i],
            "tool_sequence": tools[i], "route_path": routes[i], "error_type": error_type[i],
            "request_model": req, "response_model": resp, "fingerprint": fp, "model_version": f"{req} → {resp} ({fp})",
            "refusal_similarity": float(refusal_sim[i]) if scored[i] else None,
            "relevance": float(relevance[i]) if scored[i] else None,
        }
        segs = {"agent": agent[i], "prompt_template": template[i], "segment": segment[i],
                "client_category": category[i], "request_model": req}
        out.append(Trajectory(trace_id=f"{trace_ids[i, 0]:016x}{trace_ids[i, 1]:016x}", span_id=f"{trace_ids[i, 1]:016x}",
                              end_time=float(times[i]), segments=segs, features={k: (float(v) if isinstance(v, np.floating) else v)
                                                                                 for k, v in feats.items()}))
    return out


def utc(*args: int) -> datetime:
    """``datetime(*args, tzinfo=UTC)``."""
    return datetime(*args, tzinfo=timezone.utc)


# the alias-update scenario of the incident, table and annotation tests: 30 days of baseline, 7 current
START, SPLIT, END = utc(2026, 10, 1), utc(2026, 10, 31), utc(2026, 11, 7)
UPDATE = utc(2026, 11, 3, 12, 9)
DAY = timedelta(days=1)
BILLING_TOOLS = {"billing": {"get_invoice>refund": 0.7, "get_invoice": 0.3}}


def alias_update(root, *, seed: int = 0, billing_tools: bool = True) -> ProfileStore:
    """Baseline 30 days, current 7 days; the alias update at UPDATE (in the current window). Fewer
    than 1,024 rows on a side: whylogs' KLL sketches are exact, so the numbers are reproducible."""
    from agenttrace_whylogs import ProfileStore

    store = ProfileStore(root, window=DAY, segment_keys=SEGMENT_KEYS)
    other = {"tool_mix": BILLING_TOOLS} if billing_tools else {}
    with store:
        store.write(generate(600, START, SPLIT, seed=seed + 1, scored_fraction=1.0))
        store.write(generate(230, SPLIT, UPDATE, seed=seed + 2, scored_fraction=1.0, changes=[({"agent": "billing"}, other)]))
        # after the update: the gpt-4o rows are answered by the new version, refused 30% of the time, 1.6x longer,
        # 1 SD less relevant
        store.write(generate(330, UPDATE, END, seed=seed + 3, scored_fraction=1.0, new_model_at=UPDATE, where={"request_model": "gpt-4o"},
                             refusal_rate=0.3, output_scale=1.6, score_shift=-1.0, changes=[({"agent": "billing"}, other)]))
    return ProfileStore(root)
