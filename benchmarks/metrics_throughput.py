"""Scoring throughput: agenttrace's metric worker vs LangKit's own paths, same pairs, one run.

    python benchmarks/metrics_throughput.py [--pairs 2000]
    python benchmarks/metrics_throughput.py --distinct [--pairs 240] [--backend torch,onnx]

``--distinct``: every prompt and reply is new text (``corpus.distinct_pairs``: varied lengths from a
fixed seed), so the embedding cache cannot help; prints the worker on each embedding backend
(``--backend``) and LangKit's per-row functions side by side.

Scores refusal similarity + relevance for the same realistic prompt/response pairs (marketing
copy, support answers, refusals, hedges, unicode, empty and very long texts) with:
  1. agenttrace: MetricsEngine + LangKitScorer (batched encoding, embedding cache) — end to end,
     spans in, scored spans out;
  2. LangKit per-row functions: themes.group_similarity + input_output.prompt_response_similarity;
  3. LangKit through whylogs: why.log(df, schema=udf_schema()) with LangKit's UDFs registered
     (this also computes the prompt's jailbreak similarity, as LangKit's llm_metrics would).
  1b. the same worker with agenttrace's refusal and hedging detectors added (refusal_score,
     hedging_score) — the cost of the detectors next to LangKit's two metrics alone.
Prints pairs/s for each, the ratios, and the largest score difference against LangKit.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from corpus import distinct_pairs  # noqa: E402
from corpus import pairs as make_pairs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=None, help="default: 2000, with --distinct 240")
    parser.add_argument("--distinct", action="store_true", help="all-distinct text: no cache hits")
    parser.add_argument("--backend", default="torch,onnx", help="embedding backends to run (templated mode: the first)")
    parser.add_argument("--batch-size", default="16", help="scorer encode batch sizes to run with --distinct (comma list)")
    args = parser.parse_args()
    if args.distinct:
        return distinct(args.pairs or 240, args.backend.split(","), [int(b) for b in args.batch_size.split(",")])
    corpus = make_pairs(args.pairs or 2000, seed=11)
    unique = len({t for p in corpus for t in p})
    print(f"{len(corpus)} pairs, {unique} distinct texts")

    from agenttrace_langkit import LangKitScorer

    scorer = LangKitScorer(backend=args.backend.split(",")[0])  # templated mode: the first backend listed
    scorer.score([("warm", "up")], ["relevance", "refusal_similarity"])  # load the model outside the timing
    print(f"embedding backend: {scorer.backend}")

    def worker(metrics):
        return worker_seconds(scorer, corpus, metrics)

    ours_s, spans = worker(["refusal_similarity", "relevance"])
    detectors_s, with_detectors = worker(["refusal_similarity", "relevance", "refusal_score", "hedging_score"])
    assert all("agenttrace.metric.hedging_score" in s.attributes for s in with_detectors)
    ours = [(s.attributes["agenttrace.metric.refusal_similarity"], s.attributes["agenttrace.metric.relevance"]) for s in spans]

    per_row_s, ref = langkit_per_row(corpus)

    import pandas as pd
    import whylogs as why
    from whylogs.experimental.core.udf_schema import udf_schema

    df = pd.DataFrame({"prompt": [p for p, _ in corpus], "response": [r for _, r in corpus]})
    t0 = time.perf_counter()
    why.log(df, schema=udf_schema())
    whylog_s = time.perf_counter() - t0

    diff = max(max(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in zip(ours, ref))
    n = len(corpus)
    print(f"{'path':<48}{'seconds':>9}{'pairs/s':>10}{'agenttrace ×':>14}")
    for name, secs in (("agenttrace worker (batched, cached)", ours_s),
                       ("agenttrace worker + refusal/hedging detectors", detectors_s), ("LangKit per-row functions", per_row_s),
                       ("LangKit why.log + udf_schema", whylog_s)):
        print(f"{name:<48}{secs:>9.2f}{n / secs:>10.1f}{secs / ours_s:>14.1f}")
    print(f"max |score difference| vs LangKit: {diff:.2e}")


def langkit_per_row(corpus: list) -> tuple[float, list]:
    """Seconds and (refusal similarity, relevance) per pair through LangKit's own per-row functions."""
    from langkit import input_output, themes

    from agenttrace_langkit import default_model

    themes.init(transformer_name=default_model())
    input_output.init(transformer_name=default_model())
    themes.group_similarity("warm", "refusal")
    t0 = time.perf_counter()
    ref = [(themes.group_similarity(r, "refusal"), input_output.prompt_response_similarity({"prompt": [p], "response": [r]})[0])
           for p, r in corpus]
    return time.perf_counter() - t0, ref


def worker_seconds(scorer, corpus, metrics):
    """Seconds for the metric worker to score every pair end to end (cold cache), and the scored spans."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agenttrace.metrics import MetricsEngine, load

    scorer._cache.clear()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    engine = MetricsEngine(load({"profiles": {"p": {"metrics": metrics}}, "rules": [{"match": {"kind": "llm"}, "profile": "p"}]}),
                           scorer, queue_size=len(corpus) + 1)
    t0 = time.perf_counter()
    for prompt, response in corpus:
        span = tracer.start_span("chat")
        engine.on_step_end(span, {"kind": "llm", "operation": "chat"}, prompt, response, 0.0)
    engine.flush(600)
    return time.perf_counter() - t0, exporter.get_finished_spans()


def distinct(n: int, backends: list[str], batch_sizes: list[int]) -> None:
    import torch

    from agenttrace_langkit import LangKitScorer

    corpus = distinct_pairs(n)
    assert len({t for p in corpus for t in p}) == 2 * n
    print(f"{n} pairs, {2 * n} distinct texts (no cache hits); {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    runs = []
    for backend in backends:
        scorer = LangKitScorer(backend=backend)
        scorer.score([("warm", "up")], ["relevance", "refusal_similarity"])  # load (and export) outside the timing
        for batch_size in batch_sizes:
            scorer.batch_size = batch_size
            secs, spans = worker_seconds(scorer, corpus, ["refusal_similarity", "relevance"])
            runs.append((f"agenttrace worker ({scorer.backend}, batch {batch_size})", secs,
                         [(s.attributes["agenttrace.metric.refusal_similarity"], s.attributes["agenttrace.metric.relevance"])
                          for s in spans]))
    per_row_s, ref = langkit_per_row(corpus)
    print(f"{'path':<40}{'seconds':>9}{'pairs/s':>10}{'× LangKit':>11}{'max |diff|':>12}")
    for name, secs, got in runs:
        diff = max(max(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in zip(got, ref))
        print(f"{name:<40}{secs:>9.2f}{n / secs:>10.1f}{per_row_s / secs:>11.1f}{diff:>12.2e}")
    print(f"{'LangKit per-row functions':<40}{per_row_s:>9.2f}{n / per_row_s:>10.1f}{1.0:>11.1f}")


if __name__ == "__main__":
    main()
