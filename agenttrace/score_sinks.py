"""Score sinks: integrations that write the metric scores somewhere beside the spans.

The scores are on the spans already (``agenttrace.metric.*`` attributes and
``gen_ai.evaluation.result`` events, for any OTLP backend). A backend with a score model of its own
— Arize Phoenix's span and trace annotations — gets them through a *score sink*: an integration
registered under the entry-point group :data:`GROUP`, found by :func:`open_sinks` when
``configure()`` runs, so the core never imports the integration. The Phoenix integration declares::

    [project.entry-points."agenttrace.score_sinks"]
    phoenix = "agenttrace_phoenix.score_sink:create"

An entry point is a factory ``create(target: SinkTarget) -> sink | None``. It returns None when the
target is not for it (auto mode); the sink it returns is an OpenTelemetry ``SpanProcessor`` (it
reads the scores off the spans as they end) that also has ``flush(deadline) -> int`` (score writes
still pending at ``deadline``, a ``time.monotonic()`` value), ``shutdown_by(deadline)`` and
``dropped`` (score writes given up on). Nothing in it may block the agent's thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

from .plugins import SCORE_SINKS as GROUP
from .plugins import available

logger = logging.getLogger("agenttrace")

Mode = Union[bool, str, None]


@dataclass(frozen=True)
class SinkTarget:
    """What a score-sink factory needs to decide whether, and where, to write."""

    mode: Mode  # None: auto (write when the export target is the sink's backend); True: on; str: its URL
    endpoint: Optional[str]  # the resolved OTLP endpoint (None: a span_exporter or the application's provider)
    protocol: Optional[str]  # "http/protobuf" or "grpc" (None with endpoint None)
    headers: Mapping[str, str] = field(default_factory=dict)  # the OTLP export headers (auth for the same server)
    project: str = "default"
    timeout: float = 5.0  # seconds one write may take
    scored: bool = False  # a metrics engine is configured (auto mode writes only then)


def check_mode(mode: Any) -> Mode:
    """``annotate_scores=``: None, a bool, or a non-empty URL string."""
    if mode is None or isinstance(mode, bool):
        return mode
    if isinstance(mode, str) and mode.strip().startswith(("http://", "https://")):
        return mode.strip()
    raise ValueError(f"agenttrace: annotate_scores={mode!r} is not valid (None for auto, True, False, or the "
                     "backend's base URL such as 'http://localhost:6006')")


def open_sinks(target: SinkTarget) -> list:
    """The sinks of every installed score-sink plug-in that accepts ``target``. Off (``False``):
    none. Auto: a plug-in that fails is logged and skipped (telemetry never takes the application
    down). On (``True`` or a URL): a plug-in failure raises, and so does finding no plug-in."""
    if target.mode is False:
        return []
    sinks = []
    for ep in available(GROUP).values():
        try:
            sink = ep.load()(target)
        except Exception as err:
            if target.mode is not None:
                raise
            logger.warning("agenttrace: score sink %r could not start (%s: %s); scores stay on the spans only",
                           ep.name, type(err).__name__, err)
            continue
        if sink is not None:
            sinks.append(sink)
    if not sinks and target.mode is not None:
        raise RuntimeError("agenttrace: annotate_scores is on but no installed integration writes scores "
                           "(pip install -e integrations/phoenix for Phoenix annotations)")
    return sinks
