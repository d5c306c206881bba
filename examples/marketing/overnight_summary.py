"""What ``run_overnight`` measured per retry policy, and the summary it prints.

The summary prints one block per policy and then its :attr:`OvernightSummary.sections`, the places
where issue 12's other pieces add their lines:

* ``retry storm`` — the live storm/herd detector's onset (and recovery) line, per policy;
* ``dead-letter queue`` — the entries a policy's exhausted runs left, and how to replay them;
* ``failure clusters`` — ``agenttrace retries``' clusters over both batches (content policy vs
  infrastructure).

Each is a :class:`Section` returned by a hook passed to ``run_overnight`` (``policy_sections`` /
``batch_sections``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from .jobs import Job
from .provider import ContentPolicyError, RateLimitError
from .summary import Tally


@dataclass(frozen=True)
class Section:
    """A titled block of summary lines added by a hook."""

    title: str
    lines: Sequence[str]

    def format(self) -> list[str]:
        return [f"  {self.title}"] + [f"    {line}" for line in self.lines]


@dataclass
class PolicyResult:
    """One policy's batch: runs, completions, retries and failures by cause and brief category."""

    policy: str
    description: str
    runs: int
    completed: int
    retries: int            # attempt spans after the first (from the traces)
    exhausted: int          # retry wrappers that failed after using every attempt (from the traces)
    content_policy: int     # runs that failed with the provider's 400 content_policy_violation
    rate_limited: int       # runs that failed with 429 after their last attempt
    requests: int           # requests the provider received (every attempt)
    rejected_429: int       # of which answered 429
    seconds: float
    failed_by_category: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # brief id → "Type: message" of each failed run

    @property
    def completion_rate(self) -> float:
        return self.completed / self.runs if self.runs else 0.0

    @property
    def infrastructure_completion_rate(self) -> float:
        """Completion among the runs the safety system did not reject (what retrying can change)."""
        eligible = self.runs - self.content_policy
        return (self.completed / eligible) if eligible else 0.0

    @classmethod
    def of(cls, policy: str, description: str, jobs: Sequence[Job], errors: Sequence[Optional[BaseException]],
           seconds: float, tally: Tally, attempts: int, requests: int, rejected_429: int) -> "PolicyResult":
        by_category: Counter = Counter()
        failures = {}
        for job, error in zip(jobs, errors):
            if error is not None:
                metadata = job.config["metadata"]
                by_category[metadata["client_category"]] += 1
                failures[metadata["brief_id"]] = f"{type(error).__name__}: {error}"
        failed = [e for e in errors if e is not None]
        return cls(policy, description, runs=len(jobs), completed=len(jobs) - len(failed),
                   retries=tally.retries, exhausted=tally.exhausted_after[attempts - 1],
                   content_policy=sum(isinstance(e, ContentPolicyError) for e in failed),
                   rate_limited=sum(isinstance(e, RateLimitError) for e in failed),
                   requests=requests, rejected_429=rejected_429, seconds=seconds,
                   failed_by_category=dict(sorted(by_category.items())), errors=failures)

    def format(self) -> list[str]:
        failed = ", ".join(f"{c} {n}" for c, n in self.failed_by_category.items()) or "none"
        return [
            f"  {self.policy:<12} {self.description}",
            f"    runs {self.runs}, completed {self.completed} ({100 * self.completion_rate:.1f}%; "
            f"{100 * self.infrastructure_completion_rate:.1f}% of the briefs the safety system accepts), "
            f"retries {self.retries}, exhausted {self.exhausted}, content-policy failures {self.content_policy}, "
            f"lost to 429 {self.rate_limited}",
            f"    provider: {self.requests} requests, {self.rejected_429} answered 429; "
            f"failed runs by category: {failed}; {self.seconds:.1f} s",
        ]


PolicyHook = Callable[[PolicyResult, Any], Optional[Section]]  # (result, the policy's Telemetry) → section
BatchHook = Callable[["OvernightSummary"], Optional[Section]]


@dataclass
class OvernightSummary:
    """Both policies' results and the sections hooks added."""

    count: int
    time_scale: float
    tier: dict[str, Any]   # the provider's rate tier in uncompressed units
    project: str
    destination: str
    content_category: str
    results: list[PolicyResult] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    spans: int = 0
    dropped: int = 0
    side_by_side: bool = True  # the policies' batches ran at the same time
    records: list = field(default_factory=list, repr=False)  # the finished spans, with record_spans=True

    def result(self, policy: str) -> PolicyResult:
        return next(r for r in self.results if r.policy == policy)

    def format(self) -> str:
        t = self.tier
        scale = (f"; time compressed: every wait and latency runs at {self.time_scale:g}× its stated value"
                 if self.time_scale != 1 else "")
        lines = [
            f"agenttrace demo --overnight: {self.count} ad briefs sent at once under each of {len(self.results)} retry "
            + ("policies (side by side, each on a provider of its own)" if self.side_by_side
               else "policies (one after the other, each on a provider of its own)") + scale,
            f"  provider     2 AM shared tier: {t['requests_per_second']:g} requests/s, burst {t['burst']}, "
            f"{t['max_concurrency']} concurrent, latency {t['latency'][0]:g}–{t['latency'][1]:g} s; "
            f"'{self.content_category}' briefs make health claims its safety system rejects (HTTP 400)",
            f"  spans        {self.spans - self.dropped} sent to {self.destination}, {self.dropped} dropped "
            f"— project {self.project!r}, metadata client_category / brief_id / retry_policy",
        ]
        for result in self.results:
            lines += result.format()
        for section in self.sections:
            lines += section.format()
        return "\n".join(lines)
