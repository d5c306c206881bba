"""Every gen_ai.* name we emit is in the official registry and not deprecated; every agenttrace.*
name we emit is documented."""

from __future__ import annotations

import ast
import inspect
import pathlib

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableBranch, RunnableLambda
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes

from agenttrace import semconv as sc
from conftest import ask, build_agent

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "attributes.md"


def _registry():
    """name → deprecated?, read from the semantic-conventions package source."""
    tree = ast.parse(inspect.getsource(gen_ai_attributes))
    names = {}
    body = tree.body
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            doc = body[i + 1] if i + 1 < len(body) else None
            text = doc.value.value if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) else ""
            text = str(text).strip()
            # 0.66b2 marks every gen_ai.* name "Deprecated: Moved to the GenAI semantic conventions
            # repository" (a relocation, the name stays valid); real deprecations say "Replaced by"/"Removed"
            names[node.value.value] = text.startswith("Deprecated") and not text.startswith("Deprecated: Moved to")
    return names


def _everything(handler):
    build_agent().invoke(ask(), config={"callbacks": [handler], "metadata": {"segment": "vip", "user_id": "u1"},
                                        "tags": ["template:v3"], "configurable": {"thread_id": "t"}})
    RunnableBranch((lambda x: x > 1, RunnableLambda(lambda x: x)), RunnableLambda(lambda x: -x)).invoke(3, config={"callbacks": [handler]})
    try:
        RunnableLambda(lambda x: 1 / 0).with_retry(stop_after_attempt=2, wait_exponential_jitter=False).invoke(1, config={"callbacks": [handler]})
    except ZeroDivisionError:
        pass

    class R(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager):
            return [Document("doc")]

    R().invoke("q", config={"callbacks": [handler]})


def test_gen_ai_names_are_registered_and_not_deprecated(content_handler, spans):
    _everything(content_handler)
    registry = _registry()
    assert registry["gen_ai.system"] is True and registry["gen_ai.provider.name"] is False  # the parser works
    emitted = {k for s in spans().all for k in s.attributes if k.startswith("gen_ai.")}
    assert len(emitted) > 20
    unknown = emitted - set(registry)
    deprecated = {k for k in emitted if registry.get(k)}
    assert not unknown, unknown
    assert not deprecated, deprecated


def test_every_agenttrace_attribute_is_documented(content_handler, spans):
    _everything(content_handler)
    emitted = {k for s in spans().all for k in s.attributes if k.startswith("agenttrace.")}
    declared = {v for k, v in vars(sc).items() if k.isupper() and isinstance(v, str) and v.startswith("agenttrace.")}
    text = DOCS.read_text()
    missing = sorted(n for n in emitted | declared if f"`{n}`" not in text)
    assert not missing, f"undocumented in docs/attributes.md: {missing}"
