"""``run_demo``: run the marketing agents under agenttrace, update the model alias midway, summarise.

The workload of every chosen agent is split at ``switch_at``: the first part runs on the provider's
current model versions, then the provider moves its aliases to the new release, then the rest runs.
Every agent therefore has traffic on both sides of the update, which is what drift detection
compares. Spans go over OTLP (or to ``span_exporter``) and a :class:`~.summary.Tally` counts them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from tqdm import tqdm

import agenttrace
from agenttrace import semconv as sc
from agenttrace.export import DEFAULT_GRPC_ENDPOINT, DEFAULT_HTTP_ENDPOINT, resolve_endpoint, resolve_protocol
from agenttrace.metrics import ProfileSet, load
from agenttrace.metrics.profiles import LIGHT_METRICS, REFUSAL_SOURCES

from .agents import AGENTS, agent
from .jobs import Outcome
from .provider import Provider
from .schedule import DAY_NS, SimulatedClock
from .schedule import plan as schedule
from .summary import DemoSummary, Tally

DEFAULT_PROFILES = Path(__file__).with_name("profiles.toml")
SCALES = {"small": 0.1, "default": 1.0, "large": 5.0}
OFFLINE_ENDPOINT = "https://api.simulated-llm.invalid/v1"  # the simulated provider's (fictitious) address


DRAIN_SECONDS = 600.0  # how long the demo waits for metric scoring and export to catch up


@dataclasses.dataclass(frozen=True)
class Target:
    """Where spans go, and the Phoenix UI showing them when that is known."""

    endpoint: str
    protocol: str
    ui_url: Optional[str]


def resolve_target(endpoint: Optional[str] = None, protocol: Optional[str] = None) -> Target:
    """``endpoint``, else ``OTEL_EXPORTER_OTLP_*`` / ``PHOENIX_COLLECTOR_ENDPOINT``, else a Phoenix
    started by ``agenttrace phoenix start``, else the default local Phoenix."""
    proto = resolve_protocol(protocol)
    resolved = resolve_endpoint(endpoint, proto)
    phoenix_env = os.environ.get("PHOENIX_COLLECTOR_ENDPOINT", "").strip().rstrip("/")
    if endpoint or resolved not in (DEFAULT_HTTP_ENDPOINT, DEFAULT_GRPC_ENDPOINT):
        from_phoenix_env = phoenix_env and resolved.startswith(phoenix_env)
        return Target(resolved, proto, phoenix_env if from_phoenix_env else None)
    try:
        from agenttrace_phoenix.server import find_running
    except ImportError:
        find_running = None
    running = find_running() if find_running is not None else None
    if running is not None:
        return Target(running.otlp_grpc_endpoint if proto == "grpc" else running.otlp_http_endpoint, proto, running.url)
    return Target(resolved, proto, "http://localhost:6006")


def project_page(ui_url: Optional[str], project: str, days: float) -> Optional[str]:
    """The Phoenix page of ``project`` showing the whole simulated period (Phoenix opens on the
    last 7 days; its ``timeRangeKey`` URL parameter takes any ``<N>d``), or None when Phoenix does
    not answer with the project (or the Phoenix integration is not installed)."""
    try:
        from agenttrace_phoenix.store import project_id
    except ImportError:
        return None
    found = project_id(ui_url, project) if ui_url else None
    if found is None:
        return None
    return f"{ui_url}/projects/{found}" + (f"?timeRangeKey={math.ceil(days) + 1}d" if days > 0 else "")


def reachable(endpoint: str, timeout: float = 0.5) -> bool:
    """Whether anything accepts TCP connections at the endpoint's host and port."""
    url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "localhost", port), timeout=timeout):
            return True
    except OSError:
        return False


def light_only(profiles: ProfileSet) -> ProfileSet:
    """The same profiles, rules and judges without the metrics that need LangKit."""
    def strip(p):
        return dataclasses.replace(p, metrics=tuple(m for m in p.metrics if m in LIGHT_METRICS or m.startswith("judge:")),
                                   thresholds={k: v for k, v in p.thresholds.items() if k in LIGHT_METRICS})
    return dataclasses.replace(profiles, profiles={name: strip(p) for name, p in profiles.profiles.items()})


def metric_profiles(source: Union[str, Path, Mapping, ProfileSet], heavy: bool = True) -> tuple[ProfileSet, str]:
    """The profiles to use and a line describing them: LangKit metrics only when ``heavy`` and
    ``agenttrace_langkit`` is installed, else the light metrics of the same profiles."""
    profiles = load(source)
    wanted = sorted(profiles.heavy_metrics)
    if not wanted:
        return profiles, "light metrics only (the profiles ask for no LangKit metric)"
    if not heavy:
        return light_only(profiles), "light metrics only (LangKit metrics turned off)"
    if importlib.util.find_spec("agenttrace_langkit") is None:
        return light_only(profiles), ("light metrics only: agenttrace_langkit is not installed, so "
                                      f"{', '.join(wanted)} are skipped (pip install -e integrations/langkit)")
    from agenttrace_langkit.detectors import thresholds as calibrated  # the detectors' shipped thresholds

    defaults = calibrated()
    limits = sorted({f"{k} > {v:g}" for p in profiles.profiles.values()
                     for k, v in {**{m: defaults[m] for m in p.metrics if m in defaults}, **p.thresholds}.items()
                     if k not in REFUSAL_SOURCES.values() or k == p.refusal_metric}  # the other refusal score flags nothing
                    | {f"{k} < {v:g}" for p in profiles.profiles.values() for k, v in p.floors.items()})
    return profiles, f"LangKit {', '.join(wanted)}" + (f"; review flag when {' or '.join(limits)}" if limits else "")


def _model_endpoint(llm: Optional[BaseChatModel]) -> str:
    if llm is None:
        return OFFLINE_ENDPOINT
    params = llm._get_ls_params()
    return f"{params.get('ls_provider', type(llm).__name__)}:{params.get('ls_model_name', 'unknown')}"


def _pipeline(project: str, target: Optional[Target], span_exporter: Optional[SpanExporter], up: bool,
              profiles: Optional[ProfileSet], capture_content: bool, clock: Optional[SimulatedClock],
              profile_store: Optional[Path], **options: Any) -> tuple[agenttrace.Telemetry, Tally]:
    """agenttrace on a tracer provider of its own, with a :class:`Tally` counting every span
    (``options``: further ``configure()`` arguments)."""
    resource = Resource.create({sc.OI_PROJECT_NAME: project, "service.name": project})
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    tally = Tally()
    tracer_provider.add_span_processor(tally)
    telemetry = agenttrace.configure(
        project=project, tracer_provider=tracer_provider, span_exporter=span_exporter, capture_content=capture_content,
        endpoint=target.endpoint if target else None, protocol=target.protocol if target else None,
        profiles=profiles, set_global=False, export_timeout=10 if up else 1, clock=clock,
        profile_store=str(profile_store) if profile_store is not None else None,
        profile_window=86_400 if clock is not None else 3_600,  # simulated traffic is sparse: daily profiles
        **options)
    return telemetry, tally


def run_demo(
    agents: Optional[Sequence[str]] = None,
    *,
    counts: Optional[Mapping[str, int]] = None,
    scale: float = 1.0,
    switch_at: Optional[float] = 0.5,
    seed: int = 0,
    project: str = "agenttrace-demo",
    endpoint: Optional[str] = None,
    protocol: Optional[str] = None,
    llm: Optional[BaseChatModel] = None,
    profiles: Union[str, Path, Mapping, ProfileSet, None] = DEFAULT_PROFILES,
    heavy_metrics: bool = True,
    capture_content: bool = True,
    span_exporter: Optional[SpanExporter] = None,
    progress: bool = True,
    provider: Optional[Provider] = None,
    announce: Optional[Callable[[str], None]] = None,
    days: float = 0.0,
    profile_store: Union[str, Path, None] = None,
) -> DemoSummary:
    """Run the chosen agents (default: all) and return what happened.

    ``counts`` overrides the workload size per agent; otherwise it is the agent's default times
    ``scale``. ``switch_at`` is the share of each workload run before the alias update (``None``: no
    update). ``llm`` replaces the simulated provider (``provider``, default ``Provider(seed)``) with a
    real chat model; there is no alias update then. ``span_exporter`` replaces OTLP export (tests).
    ``profiles=None`` turns metrics off; ``heavy_metrics=False`` keeps only the light ones.
    ``announce`` gets a line saying where spans go and which metrics run, before anything runs.
    ``days`` > 0 spreads the workloads over that many simulated days ending now (span and trajectory
    times follow a simulated clock) and ``switch_at`` is then the share of that period before the
    update. ``profile_store`` (a directory) also writes whylogs trajectory profiles for
    ``agenttrace drift`` (needs ``agenttrace_whylogs``).
    """
    if switch_at is not None and not 0.0 <= switch_at <= 1.0:
        raise ValueError(f"switch_at must be between 0 and 1, got {switch_at}")
    chosen = [agent(name) for name in (agents or [a.name for a in AGENTS])]
    provider = None if llm is not None else provider or Provider(seed)
    switching = provider is not None and switch_at is not None
    profile_set, metrics = metric_profiles(profiles, heavy_metrics) if profiles is not None else (None, "off")
    target = None if span_exporter is not None else resolve_target(endpoint, protocol)
    up = target is None or reachable(target.endpoint)
    where = f"{target.endpoint} ({target.protocol})" if target else "the given span exporter"
    if announce:
        announce(f"spans → {where}, project {project!r}" + (f", Phoenix UI {target.ui_url}" if target and target.ui_url else "")
                 + ("" if up else "\nwarning: nothing is listening there, spans will be dropped "
                    "(start Phoenix with `agenttrace phoenix start`, or pass --endpoint)")
                 + f"\nmetrics: {metrics}")
    if profile_store is not None and importlib.util.find_spec("agenttrace_whylogs") is None:
        if announce:
            announce("profiles: off (the whylogs integration is not installed: pip install -e integrations/whylogs)")
        profile_store = None
    clock = SimulatedClock() if days > 0 else None
    telemetry, tally = _pipeline(project, target, span_exporter, up, profile_set, capture_content, clock,
                                 Path(profile_store) if profile_store is not None else None)
    config: dict[str, Any] = {"callbacks": [telemetry.callback_handler], "tags": ["agenttrace-demo"],
                              "metadata": {"model_endpoint": _model_endpoint(llm)}}

    work = []
    for a in chosen:
        jobs = a.workload((counts or {}).get(a.name, max(1, round(a.default_runs * scale))), seed)
        work.append((a, a.build(llm, provider), jobs))

    def update_alias() -> None:
        if telemetry.callback_handler.metrics is not None:
            telemetry.callback_handler.metrics.flush(DRAIN_SECONDS)  # every "before" step is scored and counted
        tally.phase = "after"
        provider.update_alias()

    outcome = Outcome()
    started = time.monotonic()
    with tqdm(total=sum(job.runs for *_, jobs in work for job in jobs), unit="run", desc="agenttrace demo",
              disable=not progress) as bar:
        if clock is not None:  # simulated days: chunks in time order, the update at its simulated moment
            end_ns = time.time_ns()
            switch_ns = end_ns - int(days * DAY_NS * (1 - switch_at)) if switching else None
            for chunk in schedule(work, days, end_ns):
                if switch_ns is not None and chunk.at_ns >= switch_ns and tally.phase == "before":
                    update_alias()
                clock.move_to(chunk.at_ns)
                outcome = outcome.merge(chunk.agent.run(chunk.graph, chunk.jobs, config, bar.update))
        else:  # real time: each workload split at switch_at, the update between the halves
            cuts = [round(len(jobs) * switch_at) if switching else len(jobs) for *_, jobs in work]
            for phase in (0, 1):
                for (a, graph, jobs), cut in zip(work, cuts):
                    part = jobs[:cut] if phase == 0 else jobs[cut:]
                    if part:
                        outcome = outcome.merge(a.run(graph, part, config, bar.update))
                if phase == 0 and switching:
                    update_alias()
    # a demo waits for every score, span and profile (a busy machine scores slower than the runs
    # finish); shutdown then ends what is open and stops the exporter
    telemetry.flush(DRAIN_SECONDS)
    telemetry.shutdown()
    ui_url = target.ui_url if target else None
    return DemoSummary(
        page=project_page(ui_url, project, days) if tally.spans else None,
        agents=[a.name for a in chosen], runs=outcome.runs, failed=outcome.failed, seconds=time.monotonic() - started,
        project=project, destination=where, ui_url=ui_url, metrics=metrics,
        switched=switching, spans=tally.spans, dropped=telemetry.dropped_spans, traces=tally.traces,
        llm_calls=tally.llm_calls, rate_limited=tally.rate_limited, retries=tally.retries, exhausted=tally.exhausted,
        replies=dict(tally.replies), refusals=dict(tally.refusals),
        versions={p: dict(c) for p, c in tally.versions.items()}, errors=outcome.errors, days=days,
        switch_days_before_end=days * (1 - switch_at) if switching and days > 0 else None,
        profile_store=str(profile_store) if profile_store is not None else None,
        trajectories=telemetry.profiler.rows if telemetry.profiler is not None else 0)
