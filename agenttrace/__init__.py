"""agenttrace: make LangChain/LangGraph agents observable with OpenTelemetry GenAI spans.

    import agenttrace
    at = agenttrace.configure(project="email-personalizer")
    graph.invoke(inputs, config={"callbacks": [at.callback_handler]})
    at.flush()
"""

from ._version import __version__
from .embeddings import TracedEmbeddings, traced_embeddings
from .handler import CallbackHandler
from .instrument import instrument, uninstrument
from .telemetry import Telemetry, configure

__all__ = [
    "CallbackHandler",
    "Telemetry",
    "TracedEmbeddings",
    "__version__",
    "configure",
    "instrument",
    "traced_embeddings",
    "uninstrument",
]
