"""The scorer's embedding backend: ONNX Runtime parity with LangKit, export caching, torch fallback."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("agenttrace_langkit", reason="LangKit integration not installed (tests/run.sh installs it)")

from agenttrace_langkit import LangKitScorer, encoder  # noqa: E402
from conftest import run_python  # noqa: E402
from test_metrics_langkit import HEDGING, assert_matches_langkit, langkit_reference  # noqa: E402,F401

needs_onnx = pytest.mark.skipif(encoder.onnx_missing() is not None, reason=str(encoder.onnx_missing()))


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache")
    old = os.environ.get("AGENTTRACE_CACHE_DIR")
    os.environ["AGENTTRACE_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("AGENTTRACE_CACHE_DIR", None)
    else:
        os.environ["AGENTTRACE_CACHE_DIR"] = old


@needs_onnx
def test_onnx_backend_matches_langkit_within_1e_4(onnx_cache, langkit_reference):  # noqa: F811
    scorer = LangKitScorer(theme_json=HEDGING, backend="onnx")
    assert scorer.backend == "onnx"
    assert_matches_langkit(scorer, langkit_reference)


@needs_onnx
def test_second_start_loads_the_cached_export(onnx_cache):
    LangKitScorer(backend="onnx")  # exports (or finds the module's earlier export)
    exported = encoder.onnx_dir(LangKitScorer(backend="torch").model_name) / "onnx" / "model.onnx"
    assert exported.is_file()
    stamp = exported.stat().st_mtime_ns
    done = run_python("import logging; logging.basicConfig(level=logging.INFO)\n"
                      "from agenttrace_langkit import LangKitScorer\n"
                      "s = LangKitScorer(backend='onnx'); print(s.backend)\n",
                      env={**os.environ, "AGENTTRACE_CACHE_DIR": str(onnx_cache)}, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["onnx"]
    assert "exporting" not in done.stderr and "Exporting" not in done.stderr, done.stderr
    assert exported.stat().st_mtime_ns == stamp


def test_without_onnxruntime_the_scorer_falls_back_to_torch_and_says_why(tmp_path):
    # onnxruntime made unimportable in a fresh interpreter: what a machine without it sees
    done = run_python("import sys; sys.modules['onnxruntime'] = None\n"
                      "from agenttrace_langkit import LangKitScorer\n"
                      "s = LangKitScorer(backend='onnx')\n"
                      "print(s.backend, s.score([('hi', 'Sorry, I cannot help with that.')], ['refusal_similarity'])[0]"
                      "['refusal_similarity'] > 0.4)\n",
                      env={**os.environ, "AGENTTRACE_CACHE_DIR": str(tmp_path)}, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["torch", "True"]
    assert "ONNX embedding backend unavailable, using torch: onnxruntime is not installed" in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())  # nothing exported


def test_an_unknown_backend_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(encoder.ENV, "tensorrt")
    with pytest.raises(ValueError, match="embedding backend 'tensorrt': expected one of auto, torch, onnx"):
        encoder.resolve(None)
    assert encoder.resolve("TORCH") == "torch"
