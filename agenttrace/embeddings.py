"""Embedding calls: LangChain's ``Embeddings`` interface fires no callbacks, so wrap the model.

``traced_embeddings(model)`` returns an ``Embeddings`` that behaves exactly like ``model`` and
records an ``embeddings {model}`` span per call, nested under the current span (a retriever,
tool or node of a traced run, since the handler makes those current).
"""

from __future__ import annotations

from typing import Any, Optional

from langchain_core.embeddings import Embeddings
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from . import errors
from . import semconv as sc
from ._version import __version__
from .content import ContentPolicy


def _model_name(model: Any) -> Optional[str]:
    for attr in ("model", "model_name", "model_id", "deployment"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


# class-name prefixes of embedding models in the mixed packages (langchain_community, ...)
_PROVIDER_BY_CLASS = (
    ("AzureOpenAI", "azure_openai"), ("OpenAI", "openai"), ("Bedrock", "bedrock"), ("VertexAI", "google_vertexai"),
    ("GoogleGenerativeAI", "google_genai"), ("Cohere", "cohere"), ("Mistral", "mistralai"), ("Watsonx", "ibm"),
)


def provider_of(model: Any) -> Optional[str]:
    """``gen_ai.provider.name`` of an embedding model: a registry value, or None when not known.

    The package says it for provider packages (``langchain_openai`` → ``openai``); the mixed packages
    (``langchain_core``, ``langchain_community``) say nothing, so the class name decides there."""
    package = type(model).__module__.split(".")[0].removeprefix("langchain_")
    if package in sc.PROVIDER_BY_LS:
        return sc.PROVIDER_BY_LS[package]
    if package == "aws":
        return sc.PROVIDER_BY_LS["bedrock"]
    name = type(model).__name__
    for prefix, key in _PROVIDER_BY_CLASS:
        if name.startswith(prefix):
            return sc.PROVIDER_BY_LS[key]
    return None


class TracedEmbeddings(Embeddings):
    def __init__(self, inner: Embeddings, tracer_provider: Optional[trace.TracerProvider] = None):
        self.inner = inner
        self._tracer = trace.get_tracer("agenttrace", __version__, tracer_provider=tracer_provider)
        self._model = _model_name(inner)
        self._provider = provider_of(inner)
        self._policy = ContentPolicy.resolve(None, None, None)  # error messages only when capture is on

    def __getattr__(self, name: str) -> Any:  # model, dimensions, ... of the wrapped model
        return getattr(self.__dict__["inner"], name)

    def _span(self, count: int):
        attrs = {sc.OPERATION: sc.OP_EMBEDDINGS, sc.OI_SPAN_KIND: "EMBEDDING", sc.EMBEDDINGS_INPUT_COUNT: count}
        if self._provider:
            attrs[sc.PROVIDER] = self._provider
        if self._model:
            attrs[sc.REQUEST_MODEL] = self._model
            attrs[sc.OI_EMBEDDING_MODEL] = self._model
        name = f"{sc.OP_EMBEDDINGS} {self._model}" if self._model else sc.OP_EMBEDDINGS
        return self._tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attrs,
                                                  record_exception=False, set_status_on_exception=False)

    @staticmethod
    def _dims(span, vectors: Any) -> None:
        try:
            if vectors and len(vectors[0]):
                span.set_attribute(sc.EMBEDDINGS_DIMENSION_COUNT, len(vectors[0]))
        except Exception:  # noqa: BLE001
            pass

    def _failed(self, span, error: BaseException) -> None:
        """The error's type always; its message only with content capture (it may quote the input)."""
        try:
            span.set_attribute(sc.ERROR_TYPE, errors.error_type(error))
            errors.record(span, error, self._policy)
        except Exception:  # noqa: BLE001 - tracing never replaces the caller's exception
            pass

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._span(len(texts)) as span:
            try:
                vectors = self.inner.embed_documents(texts)
            except Exception as error:
                self._failed(span, error)
                raise
            self._dims(span, vectors)
            return vectors

    def embed_query(self, text: str) -> list[float]:
        with self._span(1) as span:
            try:
                vector = self.inner.embed_query(text)
            except Exception as error:
                self._failed(span, error)
                raise
            self._dims(span, [vector])
            return vector

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._span(len(texts)) as span:
            try:
                vectors = await self.inner.aembed_documents(texts)
            except Exception as error:
                self._failed(span, error)
                raise
            self._dims(span, vectors)
            return vectors

    async def aembed_query(self, text: str) -> list[float]:
        with self._span(1) as span:
            try:
                vector = await self.inner.aembed_query(text)
            except Exception as error:
                self._failed(span, error)
                raise
            self._dims(span, [vector])
            return vector


def traced_embeddings(model: Embeddings, tracer_provider: Optional[trace.TracerProvider] = None) -> TracedEmbeddings:
    return model if isinstance(model, TracedEmbeddings) else TracedEmbeddings(model, tracer_provider)
