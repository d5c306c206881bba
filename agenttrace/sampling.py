"""Head sampling that samples the export, not what agenttrace counts.

``configure()`` honours ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` (the SDK reads them
when the tracer provider is created without a sampler). A plain sampler *drops* the traces it does
not sample: their spans are non-recording and no span processor ever sees them, so trajectory
profiles and the retry monitor would count only the sampled share of runs. :class:`RecordUnsampled`
wraps the configured sampler and turns its ``DROP`` into ``RECORD_ONLY``: the span is recorded and
reaches every span processor, but its sampled flag stays off, so the export processors (ours and
the SDK's) skip it and nothing extra goes over the wire. The trace id, the decision and the
parent-based propagation are the inner sampler's.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

__all__ = ["RecordUnsampled"]


class RecordUnsampled(Sampler):
    """``inner``'s decisions, except that a trace it drops is still recorded (not exported)."""

    def __init__(self, inner: Sampler):
        self.inner = inner

    def should_sample(self, parent_context: Optional[Any], trace_id: int, name: str, kind: Any = None,
                      attributes: Any = None, links: Optional[Sequence[Any]] = None,
                      trace_state: Any = None) -> SamplingResult:
        result = self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        if result.decision is Decision.DROP:
            return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)
        return result

    def get_description(self) -> str:
        return f"RecordUnsampled{{{self.inner.get_description()}}}"
