"""Failures clustered by cause: error messages mined into templates with ``drain3`` (ids, numbers,
timestamps masked), clustered by (template, HTTP status, provider, model), broken down by prompt
template, client category and segment, ranked by exhausted retries, and classified:

- **content_policy**: a 4xx other than 408/429, or a safety / content-policy / refusal message —
  next step: fix the prompt template or the inputs of the category it concentrates in, and stop
  retrying it (a retry cannot succeed);
- **infrastructure**: 429, 5xx, 408 or a rate-limit / timeout / overload / connection message —
  next step: exponential backoff with jitter, fewer attempts and less concurrency;
- **other**: neither — inspect the traces.

Evidence beside the class: whether the cluster concentrates in one prompt template or client
category (≥ 80% of its failures in a value that has at most 60% of all runs), and whether it is
bunched in time (80% of its failures within a quarter of the time the runs span)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

from agenttrace.trajectory import Trajectory

from .retry_failures import Failure

DIMENSIONS = ("prompt_template", "client_category", "segment")
SHORT = {"prompt_template": "template", "client_category": "category"}
PLURAL = {"template": "templates", "category": "categories"}
CONTENT_WORDS = ("content policy", "content_policy", "content management policy", "safety", "moderation",
                 "content_filter", "content filter", "flagged", "refus", "policy violation", "disallowed")
INFRA_WORDS = ("rate limit", "rate_limit", "ratelimit", "too many requests", "timeout", "timed out", "overloaded",
               "unavailable", "connection", "server error", "capacity", "try again later")
NEXT_STEP = {
    "content_policy": ("not an outage: review {where} against the provider's content policy (prompt wording, "
                       "inputs); make these errors non-retryable (with_retry(retry_if_exception_type=...) without "
                       "them) and send the requests to review"),
    "infrastructure": ("exponential backoff with jitter (with_retry(wait_exponential_jitter=True)), 3-5 attempts, "
                       "lower the batch's concurrency or spread it in time; check the provider's rate tier"),
    "other": "inspect the traces of this cluster in Phoenix",
}
# drain3 masks: (regex, name); order matters (a timestamp before its numbers)
MASKS = (
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?", "TIMESTAMP"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"\b(?:req|request|chatcmpl|msg|run|call)[-_][A-Za-z0-9]{6,}\b", "ID"),
    (r"\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{16,}\b", "HEX"),
    (r"(?<![A-Za-z])[-+]?\d+(?:\.\d+)?(?![A-Za-z])", "NUM"),
)


def miner():
    """A drain3 TemplateMiner with the masks above, in memory (no persistence)."""
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    cfg = TemplateMinerConfig()
    cfg.masking_instructions = [MaskingInstruction(regex, name) for regex, name in MASKS]
    cfg.drain_sim_th = 0.5
    cfg.profiling_enabled = False
    return TemplateMiner(config=cfg)


def mine(failures: Sequence[Failure]) -> None:
    """Set each failure's ``template``: its message mined into a template (all messages first, then
    each matched against the final templates, so early messages get the generalised form)."""
    m = miner()
    for f in failures:
        m.add_log_message(f.message)
    for f in failures:
        cluster = m.match(f.message, full_search_strategy="fallback")
        f.template = cluster.get_template() if cluster is not None else f.message


@dataclass
class Cluster:
    id: str
    template: str
    status: Optional[int]
    error_type: str
    provider: str
    model: str
    failures: int
    exhausted: int
    retries: int
    kind: str                              # content_policy | infrastructure | other
    next_step: str
    evidence: list[str]
    breakdown: dict[str, list[list]]       # dimension → [[value, failures], ...], most first
    concentrated: Optional[tuple[str, str]] = None   # (dimension, value) it concentrates in
    bunched: bool = False
    first: float = 0.0
    last: float = 0.0
    runs: list[tuple[str, str]] = field(default_factory=list)  # (trace id, root span id)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["runs"] = [{"trace_id": t, "span_id": s} for t, s in self.runs]
        return out


def cluster(failures: Sequence[Failure], runs: Sequence[Trajectory]) -> list[Cluster]:
    """The failures' clusters, ranked by exhausted retries, then failures."""
    if failures and not any(f.template for f in failures):
        mine(failures)
    groups: dict[tuple, list[Failure]] = {}
    for f in failures:
        groups.setdefault((f.template, f.status, f.provider, f.model), []).append(f)
    share = {d: Counter(r.segments.get(d, "") for r in runs) for d in DIMENSIONS}
    times = [r.end_time for r in runs] or [f.time for f in failures]
    span = (max(times) - min(times)) if times else 0.0
    out = [_one(key, members, share, len(runs), span) for key, members in groups.items()]
    return sorted(out, key=lambda c: (-c.exhausted, -c.failures, c.template))


def _one(key: tuple, members: list[Failure], share: dict[str, Counter], total_runs: int, span: float) -> Cluster:
    template, status, provider, model = key
    error_type = Counter(f.error_type for f in members).most_common(1)[0][0]
    breakdown = {d: [[v, n] for v, n in Counter(f.segments.get(d, "") for f in members).most_common() if v]
                 for d in DIMENSIONS}
    evidence: list[str] = []
    concentrated = None
    for d in ("prompt_template", "client_category"):
        if breakdown[d]:
            value, n = breakdown[d][0]
            of_runs = share[d][value] / total_runs if total_runs else 1.0
            if n / len(members) >= 0.8 and of_runs <= 0.6:
                concentrated = concentrated or (d, value)
                evidence.append(f"{n / len(members):.0%} {SHORT[d]} {value} ({of_runs:.0%} of runs)")
            elif len(breakdown[d]) > 1:
                evidence.append(f"{len(breakdown[d])} {PLURAL[SHORT[d]]}")
    times = sorted(f.time for f in members)
    bunched = False
    if len(times) >= 5 and span > 0:
        k = max(1, int(round(0.8 * len(times))))
        tightest = min(times[i + k - 1] - times[i] for i in range(len(times) - k + 1))
        bunched = tightest <= 0.25 * span
        evidence.append(("bunched" if bunched else "spread in time") + f": 80% within {_duration(tightest)}")
    kind = classify(template, status, error_type)
    where = f"{concentrated[0]}={concentrated[1]}" if concentrated else "the failing prompts"
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:8]
    return Cluster(f"c-{digest}", template, status, error_type, provider, model, len(members),
                   sum(f.exhausted for f in members), sum(f.retries for f in members), kind,
                   NEXT_STEP[kind].format(where=where), evidence, breakdown, concentrated, bunched, times[0], times[-1],
                   [(f.trace_id, f.span_id) for f in members])


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def classify(template: str, status: Optional[int], error_type: str = "") -> str:
    """``content_policy``, ``infrastructure`` or ``other`` (see the module docstring)."""
    text = f"{error_type} {template}".lower()
    if status is not None and (status in (408, 429) or status >= 500):
        return "infrastructure"
    if any(w in text for w in CONTENT_WORDS):
        return "content_policy"
    if any(w in text for w in INFRA_WORDS):
        return "infrastructure"
    if status is not None and 400 <= status < 500 and status not in (401, 403, 404):
        return "content_policy"
    return "other"
