"""``run_overnight``: an overnight ad-copy batch against the provider's rate limit, under two retry policies.

The story (issue 12): at 2 AM a content batch shares the provider's rate tier with other heavy
clients. Every brief is written at once on a thread pool; the provider's token bucket and
concurrency limit answer 429 to most of the first wave. The same batch runs under two retry
policies, each on a fresh provider of its own (side by side, so both meet the same machine load)
and traced by agenttrace:

* **naive**: a flat 2-second wait between attempts, 3 attempts, no jitter, every error retried.
  The rejected requests wait the same time and come back together, hit the refilled bucket as one
  herd, and most of them are rejected again;
* **recommended**: exponential backoff with jitter (2^n s + 0–1 s), 3 attempts, only retryable
  errors (429, timeouts, connection errors) retried — LangChain's own ``with_retry``.

Both policies are LangChain's ``RunnableRetry`` (the naive one only swaps tenacity's wait for a
fixed one); there is no retry loop of our own. Time is compressed: every wait and latency runs at
``time_scale`` (0.5) of its stated value, which the summary says ("2 s (run at 1 s)"). Not more:
the rate limit runs in real time, and the provider, not the machine, must set the pace. A busy
2-core machine takes about a second to send 60 traced runs; at 0.1 the whole retry schedule would
fit in that second and the outcome would depend on the machine's load more than on the policy.

One brief category (``supplements``) asks for health claims; the provider's safety system rejects
those requests with HTTP 400 ``content_policy_violation`` however often they are sent. The naive
policy retries them to exhaustion, the recommended one fails them at once: a content problem, not
an infrastructure one. Every run carries ``client_category`` (a default trajectory segment key),
``brief_id`` and ``retry_policy`` in its metadata.

Issue 12's other pieces plug into :class:`~.overnight_summary.OvernightSummary`'s sections:
``policy_sections`` hooks run once per policy while its telemetry is still open (the storm/herd
detector's onset line, the dead-letter entries), ``batch_sections`` once after both (the failure
clusters); ``telemetry_options`` adds ``configure()`` arguments (e.g. ``dead_letter=...``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from langchain_core.runnables.retry import RunnableRetry
from opentelemetry.sdk.trace.export import SpanExporter
from tenacity import wait_fixed

from . import ad_copy
from .catalog import ANGLES, CHANNELS, Product
from .demo import _pipeline, reachable, resolve_target
from .jobs import Job, merge_config
from .overnight_summary import BatchHook, OvernightSummary, PolicyHook, PolicyResult, Section
from .provider import ContentPolicyError, Provider, RateLimitError

TIME_SCALE = 0.5  # see the module docstring: a busy machine must send the batch faster than the provider serves it
FLAT_WAIT = 2.0  # seconds between the naive policy's attempts (the flat interval)
ATTEMPTS = 3
RETRYABLE = (RateLimitError, TimeoutError, ConnectionError)

#: brief category → its products; ``supplements`` briefs ask for health claims the safety system flags
CATEGORIES: dict[str, tuple[Product, ...]] = {
    "footwear": (Product("TrailBlazer running shoes", "grip wet trails without slipping"),),
    "outerwear": (Product("AeroLite rain jacket", "keep you dry in a downpour"),
                  Product("Ridgeline merino base layer", "keep you warm without the itch")),
    "packs": (Product("SummitPro hiking backpack", "carry 30 litres in comfort"),),
    "camping": (Product("Nomad camping hammock", "set up in two minutes"),
                Product("Glacier down sleeping bag", "keep you warm down to minus ten degrees")),
    "hydration": (Product("Cascade insulated bottle", "keep drinks cold for 24 hours"),),
    "supplements": (Product("PeakFuel electrolyte tablets", "boost immunity at altitude"),
                    Product("SummitGreens recovery powder", "speed recovery, clinically proven")),
}
CONTENT_CATEGORY = "supplements"
CONTENT_EVERY = 15  # one brief in 15 is a supplement brief
HEALTH_CLAIMS = ("boost immunity", "clinically proven")

#: the shared rate tier at 2 AM, in real (uncompressed) units: requests per second, burst, concurrency, latency
TIER = {"requests_per_second": 6.0, "burst": 25, "max_concurrency": 25, "latency": (0.2, 0.4)}


class FlatRetry(RunnableRetry):
    """LangChain's ``RunnableRetry`` waiting a fixed ``wait_seconds`` between attempts (tenacity's
    ``wait_fixed``), as a retry handler with a flat interval does."""

    wait_seconds: float = 0.0

    @property
    def _kwargs_retrying(self) -> dict[str, Any]:
        return {**super()._kwargs_retrying, "wait": wait_fixed(self.wait_seconds)}


class _Borrowed(SpanExporter):
    """The caller's exporter, lent to one policy's pipeline: its shutdown leaves the exporter open
    for the next policy (and for the caller to read)."""

    def __init__(self, exporter: SpanExporter):
        self.exporter = exporter

    def export(self, spans):
        return self.exporter.export(spans)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self) -> None:
        pass


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    wrap: Callable[[BaseChatModel], Runnable]  # the model → the model under this retry policy


def policies(time_scale: float = TIME_SCALE) -> tuple[Policy, Policy]:
    """The naive and the recommended policy, their waits scaled by ``time_scale``."""
    def at(seconds: float) -> str:
        return f"{seconds:g} s" + (f" (run at {seconds * time_scale:g} s)" if time_scale != 1 else "")

    naive = Policy(
        "naive", f"flat {at(FLAT_WAIT)} wait, {ATTEMPTS} attempts, no jitter, every error retried",
        lambda llm: FlatRetry(bound=llm, kwargs={}, config={}, max_attempt_number=ATTEMPTS,
                              retry_exception_types=(Exception,), wait_exponential_jitter=False,
                              wait_seconds=FLAT_WAIT * time_scale))
    recommended = Policy(
        "recommended", f"exponential backoff 2^n s + 0–1 s jitter (first wait {at(2.0)} + up to {at(1.0)}), "
        f"{ATTEMPTS} attempts, retryable errors only ({', '.join(e.__name__ for e in RETRYABLE)})",
        lambda llm: llm.with_retry(retry_if_exception_type=RETRYABLE, wait_exponential_jitter=True,
                                   stop_after_attempt=ATTEMPTS,
                                   exponential_jitter_params={"initial": 2.0 * time_scale, "exp_base": 2,
                                                              "jitter": 1.0 * time_scale}))
    return naive, recommended


def tier(time_scale: float = TIME_SCALE, **overrides: Any) -> dict[str, Any]:
    """The provider's rate tier with its time units compressed by ``time_scale``."""
    t = {**TIER, **overrides}
    return {"requests_per_second": t["requests_per_second"] / time_scale, "burst": t["burst"],
            "max_concurrency": t["max_concurrency"], "latency": tuple(x * time_scale for x in t["latency"])}


def briefs(count: int = 100, seed: int = 0) -> list[Job]:
    """``count`` ad briefs cycling through the categories; every :data:`CONTENT_EVERY`-th one (from the
    middle of the first block) is a supplement brief."""
    regular = [c for c in CATEGORIES if c != CONTENT_CATEGORY]
    channels = list(CHANNELS)
    jobs, seen = [], 0
    for i in range(count):
        if i % CONTENT_EVERY == CONTENT_EVERY // 2:
            category, product = CONTENT_CATEGORY, CATEGORIES[CONTENT_CATEGORY][(i // CONTENT_EVERY) % 2]
        else:
            category = regular[seen % len(regular)]
            product = CATEGORIES[category][(seen // len(regular)) % len(CATEGORIES[category])]
            seen += 1
        channel, angle = channels[(i + seed) % len(channels)], ANGLES[(i // 2 + seed) % len(ANGLES)]
        inputs = {"product": product.name, "benefit": product.benefit, "channel": channel, "angle": angle,
                  "variant": i // CONTENT_EVERY + 1}
        jobs.append(Job(inputs, {"metadata": {"client_category": category, "brief_id": f"brief-{i:04d}",
                                              "channel": channel, "angle": angle},
                                 "tags": ["overnight", f"category:{category}"]}))
    return jobs


def _run_batch(graph: Runnable, jobs: Sequence[Job], config: Mapping[str, Any], workers: int) -> list[Optional[BaseException]]:
    """Every brief at once on ``workers`` threads; each brief's error (None when it completed)."""
    def one(job: Job) -> Optional[BaseException]:
        try:
            graph.invoke(job.inputs, merge_config(config, job.config))
        except Exception as err:  # noqa: BLE001 - the span holds the error; the batch goes on
            return err
        return None

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="overnight") as pool:
        return list(pool.map(one, jobs))


def run_overnight(
    count: int = 60,
    *,
    workers: Optional[int] = None,
    seed: int = 0,
    time_scale: float = TIME_SCALE,
    project: str = "agenttrace-overnight",
    endpoint: Optional[str] = None,
    protocol: Optional[str] = None,
    span_exporter: Optional[SpanExporter] = None,
    capture_content: bool = True,
    provider_options: Optional[Mapping[str, Any]] = None,
    telemetry_options: Optional[Mapping[str, Any]] = None,
    policy_sections: Sequence[PolicyHook] = (),
    batch_sections: Sequence[BatchHook] = (),
    announce: Optional[Callable[[str], None]] = None,
    side_by_side: bool = True,
    record_spans: bool = False,
) -> OvernightSummary:
    """Run ``count`` briefs (all at once: ``workers`` defaults to ``count``) under the naive and the
    recommended retry policy, each on a fresh :class:`Provider` with the 2 AM tier
    (``provider_options`` overrides :data:`TIER`, in uncompressed units), and summarise. The two
    batches run at the same time (``side_by_side=False``: one after the other), so both meet the
    same machine load.

    ``span_exporter`` replaces OTLP export (tests); ``telemetry_options`` are extra ``configure()``
    arguments. ``policy_sections`` (``hook(result, telemetry) -> Section | None``) run after each
    policy's batch before its telemetry shuts down; ``batch_sections`` (``hook(summary) -> Section |
    None``) after both. ``record_spans`` keeps every finished span in ``summary.records`` (for hooks
    that analyse the traces, e.g. failure clusters).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if not 0 < time_scale <= 1:
        raise ValueError(f"time_scale must be in (0, 1], got {time_scale}")
    target = None if span_exporter is not None else resolve_target(endpoint, protocol)
    up = target is None or reachable(target.endpoint)
    where = f"{target.endpoint} ({target.protocol})" if target else "the given span exporter"
    if announce:
        announce(f"spans → {where}, project {project!r}"
                 + ("" if up else "\nwarning: nothing is listening there, spans will be dropped"))
    rate_tier = tier(time_scale, **(provider_options or {}))
    jobs = briefs(count, seed)
    summary = OvernightSummary(count=count, time_scale=time_scale, tier={**TIER, **(provider_options or {})},
                               project=project, destination=where, content_category=CONTENT_CATEGORY,
                               side_by_side=side_by_side)
    lanes, recorders = [], []
    for policy in policies(time_scale):
        provider = Provider(seed, flagged_phrases=HEALTH_CLAIMS, **rate_tier)
        telemetry, tally = _pipeline(project, target, _Borrowed(span_exporter) if span_exporter else None, up, None,
                                     capture_content, None, None, **(telemetry_options or {}))
        if record_spans:  # a copy of every finished span, beside the export
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

            recorder = InMemorySpanExporter()
            telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(recorder))
            recorders.append(recorder)
        graph = ad_copy.build(provider.chat_model("gpt-4o-mini", ad_copy.writer), policy=policy.wrap)
        config = {"callbacks": [telemetry.callback_handler], "tags": ["agenttrace-demo", f"retry-policy:{policy.name}"],
                  "metadata": {"retry_policy": policy.name, "model_endpoint": "openai:gpt-4o-mini"}}
        lanes.append((policy, provider, telemetry, tally, graph, config))

    def run(lane) -> tuple[list, float]:
        started = time.monotonic()
        return _run_batch(lane[4], jobs, lane[5], workers or count), time.monotonic() - started

    if side_by_side:  # both batches at once, each on its own provider: the same machine load for both
        with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="overnight-policy") as pool:
            outcomes = list(pool.map(run, lanes))
    else:
        outcomes = [run(lane) for lane in lanes]
    for (policy, provider, telemetry, tally, *_), (errors, seconds) in zip(lanes, outcomes):
        result = PolicyResult.of(policy.name, policy.description, jobs, errors, seconds,
                                 tally, ATTEMPTS, provider.requests, provider.rate_limited)
        summary.results.append(result)
        summary.sections += [s for hook in policy_sections if (s := hook(result, telemetry)) is not None]
        telemetry.flush(60)
        telemetry.shutdown()
        summary.spans += tally.spans
        summary.dropped += telemetry.dropped_spans
    summary.records = [span for recorder in recorders for span in recorder.get_finished_spans()]
    summary.sections += [s for hook in batch_sections if (s := hook(summary)) is not None]
    return summary


def daytime_agent(seed: int = 0) -> Runnable:
    """The ad-copy graph on a provider with its daytime tier (no contention) under the recommended
    policy: what the briefs lost to 429s overnight can be replayed through, e.g. by a dead-letter
    replay given ``agenttrace_examples.marketing.overnight:replay_agent``. Supplement briefs still
    get their 400."""
    provider = Provider(seed, flagged_phrases=HEALTH_CLAIMS)
    return ad_copy.build(provider.chat_model("gpt-4o-mini", ad_copy.writer), policy=policies()[1].wrap)


#: :func:`daytime_agent` built once, for ``module:attr`` references
replay_agent = daytime_agent()

__all__ = ["daytime_agent", "replay_agent", "run_overnight", "briefs", "policies", "tier", "FlatRetry", "Policy", "Section", "CATEGORIES",
           "CONTENT_CATEGORY", "HEALTH_CLAIMS", "TIER", "TIME_SCALE", "ContentPolicyError"]
