"""agenttrace: make LangChain/LangGraph agents observable with OpenTelemetry GenAI spans.

    import agenttrace
    at = agenttrace.configure(project="email-personalizer")
    graph.invoke(inputs, config={"callbacks": [at.callback_handler]})
    at.flush()
"""

from ._version import __version__
from .dead_letter import DeadLetter
from .embeddings import TracedEmbeddings, traced_embeddings
from .handler import CallbackHandler
from .instrument import instrument, uninstrument
from .retryable import RetryableError, retryable, with_recommended_retry
from .telemetry import Telemetry, configure

__all__ = [
    "CallbackHandler",
    "DeadLetter",
    "RetryableError",
    "Telemetry",
    "TracedEmbeddings",
    "__version__",
    "configure",
    "instrument",
    "retryable",
    "traced_embeddings",
    "uninstrument",
    "with_recommended_retry",
]
