"""Encoder options on all-distinct text, side by side in one run: encodes/s and score parity.

    python benchmarks/encoder_options.py [--pairs 240]

Encodes the prompts and replies of ``corpus.distinct_pairs`` (every text new, so no cache helps)
with the settings a well-kept library already offers: torch threads, encode batch size (``encode``
already sorts texts by length within each call, so the batch size sets how much padding is left),
max_seq_length 256 (what LangKit's SentenceTransformer truncates to) vs 128, and
sentence-transformers' ONNX Runtime backend
(plain export, O1–O3 graph optimisations, int8 dynamic quantisation). For each: encodes/s and the
largest refusal-similarity / relevance difference from LangKit's per-row scores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from corpus import distinct_pairs  # noqa: E402

# needs the onnx extra for its ONNX rows: pip install -e 'integrations/langkit[onnx]' (docs/metrics.md)


def scores(model, corpus, refusal, batch_size):
    import torch

    texts = [p for p, _ in corpus] + [r for _, r in corpus]
    t0 = time.perf_counter()
    emb = model.encode(texts, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False).float()
    secs = time.perf_counter() - t0
    emb = torch.nn.functional.normalize(emb, dim=-1)
    prm, resp = emb[: len(corpus)], emb[len(corpus):]
    ref_m = torch.nn.functional.normalize(model.encode(refusal, convert_to_tensor=True, show_progress_bar=False).float(), dim=-1)
    return len(texts) / secs, list(zip((resp @ ref_m.T).max(dim=-1).values.tolist(), (prm * resp).sum(dim=-1).tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=240)
    args = parser.parse_args()
    corpus = distinct_pairs(args.pairs)
    import torch
    from langkit import input_output, themes
    from sentence_transformers import SentenceTransformer

    from agenttrace_langkit import default_model

    path = default_model()
    themes.init(transformer_name=path)
    input_output.init(transformer_name=path)
    refusal = themes.load_themes(themes.lang_config.theme_file_path)["refusal"]
    ref = [(themes.group_similarity(r, "refusal"), input_output.prompt_response_similarity({"prompt": [p], "response": [r]})[0])
           for p, r in corpus]
    print(f"{len(corpus)} pairs, {2 * len(corpus)} distinct texts, torch threads {torch.get_num_threads()}, {os.cpu_count()} cores")
    print(f"{'option':<44}{'encodes/s':>10}{'max |diff|':>12}")

    def row(name, model, batch_size=64):
        model.encode(["warm up"], show_progress_bar=False)
        rate, got = scores(model, corpus, refusal, batch_size)
        diff = max(max(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in zip(got, ref))
        print(f"{name:<44}{rate:>10.1f}{diff:>12.2e}", flush=True)

    st = SentenceTransformer(path, device="cpu")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        row(f"torch, {threads} thread(s), batch 64", st)
    for batch in (8, 16, 32, 128, 256):
        row(f"torch, 2 threads, batch {batch}", st, batch)
    st.max_seq_length = 128
    row("torch, max_seq_length 128 (LangKit: 256)", st)
    st.max_seq_length = 256
    try:
        onnx = SentenceTransformer(path, device="cpu", backend="onnx")
    except Exception as error:  # noqa: BLE001
        print(f"onnx backend unavailable: {error}")
        return
    row("onnx, batch 64", onnx)
    for batch in (16, 32, 128):
        row(f"onnx, batch {batch}", onnx, batch)
    from sentence_transformers import export_dynamic_quantized_onnx_model, export_optimized_onnx_model

    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(tmp)
        for level in ("O1", "O2", "O3"):
            try:
                export_optimized_onnx_model(onnx, level, tmp)
                row(f"onnx {level}", SentenceTransformer(tmp, device="cpu", backend="onnx",
                                                       model_kwargs={"file_name": f"onnx/model_{level}.onnx"}))
            except Exception as error:  # noqa: BLE001
                print(f"onnx {level}: {type(error).__name__}: {error}")
        for config in ("avx2", "avx512_vnni"):
            try:
                export_dynamic_quantized_onnx_model(onnx, config, tmp)
                row(f"onnx int8 ({config})", SentenceTransformer(tmp, device="cpu", backend="onnx",
                                                           model_kwargs={"file_name": f"onnx/model_{'quint8' if config == 'avx2' else 'qint8'}_{config}.onnx"}))
            except Exception as error:  # noqa: BLE001
                print(f"onnx int8 {config}: {type(error).__name__}: {error}")


if __name__ == "__main__":
    main()
