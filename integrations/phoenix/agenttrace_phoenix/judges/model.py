"""The judge model: any LangChain chat model, given to phoenix-evals as its own provider.

``model`` is ``module:attr`` (a chat model instance, or a zero-argument factory of one) when that
imports, else ``provider:model`` for ``langchain.chat_models.init_chat_model``. phoenix-evals builds
its ``LLM`` from a provider name through its registry, so the model is registered under a provider
of its own whose client factory returns it, with phoenix-evals' ``LangChainModelAdapter`` (which
does the structured-output / tool-calling parsing).
"""

from __future__ import annotations

import importlib
import itertools
import re
import threading
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ids = itertools.count()
_lock = threading.Lock()


def chat_model(ref: str) -> Any:
    """The LangChain chat model ``ref`` names."""
    module, _, attr = ref.partition(":")
    if _IDENT.match(attr):
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            obj = None
        if obj is not None:
            return obj if hasattr(obj, "invoke") else obj()
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise ImportError(f"judge model {ref!r}: 'provider:model' goes through langchain's init_chat_model: "
                          "pip install langchain and the provider's package (e.g. langchain-openai), "
                          "or name a chat model as 'module:attr'") from None
    return init_chat_model(ref)


def phoenix_llm(model: Any) -> Any:
    """A phoenix-evals ``LLM`` over the LangChain chat model ``model``."""
    from phoenix.evals import LLM
    from phoenix.evals.llm.adapters.langchain.adapter import LangChainModelAdapter
    from phoenix.evals.llm.registries import PROVIDER_REGISTRY

    with _lock:
        provider = f"agenttrace-judge-{next(_ids)}"
        PROVIDER_REGISTRY.register_provider(provider, LangChainModelAdapter, lambda model_name=None, is_async=False, **kw: model)
    name = str(getattr(model, "model_name", None) or getattr(model, "model", None) or type(model).__name__)
    return LLM(provider=provider, model=name)


class TokenCounter(BaseCallbackHandler):
    """Tokens the judge model reported (``usage_metadata``) on the calling thread since :meth:`reset`,
    and the model's last error (phoenix-evals reports only that its parsing paths failed)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def reset(self) -> None:
        self._local.tokens = None
        self._local.error = None

    @property
    def error(self):
        return getattr(self._local, "error", None)

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        self._local.error = f"{type(error).__name__}: {error}"

    @property
    def tokens(self):
        return getattr(self._local, "tokens", None)

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        total = 0
        for gens in response.generations or []:
            for gen in gens:
                usage = getattr(getattr(gen, "message", None), "usage_metadata", None) or {}
                total += int(usage.get("total_tokens") or 0)
        if total:
            self._local.tokens = (self.tokens or 0) + total
