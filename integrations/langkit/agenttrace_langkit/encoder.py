"""The sentence encoder behind the scorer: LangKit's torch SentenceTransformer, or the same model
on sentence-transformers' ONNX Runtime backend (same weights, same tokenizer, same 256-token
truncation; scores within 1e-4 of LangKit's). Measured on all-distinct text it is no faster than
torch at the same batch size (docs/benchmarks.md), so torch stays the default.

``backend``: ``"torch"`` (the default; ``AGENTTRACE_EMBEDDING_BACKEND`` overrides it), ``"onnx"``
or ``"auto"``: ``auto`` takes ONNX when ``onnxruntime`` and ``optimum`` are importable, else torch.
The ONNX graph is exported once from the local model and kept under the user cache
(``AGENTTRACE_CACHE_DIR``, else ``$XDG_CACHE_HOME/agenttrace`` or ``~/.cache/agenttrace``), so a
second start loads it without exporting. Any failure on the ONNX path falls back to torch with a
logged reason; the scorer never fails to start because of it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger("agenttrace.langkit")
BACKENDS = ("auto", "torch", "onnx")
ENV = "AGENTTRACE_EMBEDDING_BACKEND"


def cache_root() -> Path:
    if os.environ.get("AGENTTRACE_CACHE_DIR"):
        return Path(os.environ["AGENTTRACE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agenttrace"


def onnx_dir(model_name: str) -> Path:
    """Where the ONNX export of ``model_name`` is kept (one folder per model path or name)."""
    digest = hashlib.sha256(str(Path(model_name).resolve() if os.path.isdir(model_name) else model_name).encode()).hexdigest()[:12]
    return cache_root() / "onnx" / f"{Path(model_name).name}-{digest}"


def resolve(backend: Optional[str]) -> str:
    chosen = (backend or os.environ.get(ENV) or "torch").strip().lower()
    if chosen not in BACKENDS:
        raise ValueError(f"embedding backend {chosen!r}: expected one of {', '.join(BACKENDS)}")
    return chosen


def onnx_missing() -> Optional[str]:
    """Why the ONNX backend cannot load (a missing package), or None."""
    for module, package in (("onnxruntime", "onnxruntime"), ("optimum.onnxruntime", "optimum-onnx")):
        try:
            __import__(module)
        except ImportError as error:
            return f"{package} is not installed ({error}); pip install 'agenttrace-langkit[onnx]'"
    return None


def load_onnx(model_name: str) -> Any:
    """The model on ONNX Runtime: loaded from the cached export, or exported once and cached."""
    from sentence_transformers import SentenceTransformer

    target = onnx_dir(model_name)
    if (target / "onnx" / "model.onnx").is_file():
        return SentenceTransformer(str(target), device="cpu", backend="onnx", model_kwargs={"file_name": "onnx/model.onnx"})
    log.info("agenttrace: exporting %s to ONNX once, into %s", model_name, target)
    model = SentenceTransformer(model_name, device="cpu", backend="onnx")
    partial = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save(str(partial))
    try:
        partial.rename(target)  # atomic: a concurrent start sees a whole export or none
    except OSError:  # another process finished first: keep its copy
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
    return model


def load(model_name: str, backend: Optional[str] = None) -> tuple[Any, str]:
    """(the SentenceTransformer, the backend it runs on)."""
    chosen = resolve(backend)
    if chosen in ("auto", "onnx"):
        reason = onnx_missing()
        if reason is None:
            try:
                return load_onnx(model_name), "onnx"
            except Exception as error:  # noqa: BLE001 - any export/load failure: torch still scores
                reason = f"{type(error).__name__}: {error}"
        if chosen == "onnx" or not reason.startswith(("onnxruntime", "optimum")):
            log.warning("agenttrace: ONNX embedding backend unavailable, using torch: %s", reason)
        else:
            log.info("agenttrace: embedding on torch (%s)", reason)
    from langkit.transformer import _get_sentence_transformer

    return _get_sentence_transformer(model_name, True), "torch"  # the SentenceTransformer LangKit would use
