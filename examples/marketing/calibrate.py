"""Score the simulated provider's replies with LangKit and the detectors: the demo profile's figures.

    python -m agenttrace_examples.marketing.calibrate [--seed 0]

Runs every agent's default workload, half before and half after the alias update, collects each
(prompt, reply) pair, scores them with ``agenttrace_langkit.LangKitScorer`` and prints refusal
similarity, the refusal and hedging detectors' scores and relevance for normal copy, hedged copy and
refusals, the share of each kind each refusal flag and the hedging flag raise, and the midpoint
between the highest non-refusal and the lowest refusal on LangKit's refusal similarity.
"""

from __future__ import annotations

import argparse
import statistics

from langchain_core.callbacks import BaseCallbackHandler

from .agents import AGENTS
from .provider import HEDGE_OPENINGS, REFUSALS, Provider


class _Pairs(BaseCallbackHandler):
    """Collects (last user message, text reply) of every chat call."""

    def __init__(self) -> None:
        self.prompts: dict = {}
        self.pairs: list[tuple[str, str]] = []

    def on_chat_model_start(self, serialized, messages, *, run_id, **kwargs) -> None:
        self.prompts[run_id] = next((str(m.content) for m in reversed(messages[0]) if m.type == "human"), "")

    def on_llm_end(self, response, *, run_id, **kwargs) -> None:
        text = str(response.generations[0][0].message.content)
        if text:
            self.pairs.append((self.prompts.pop(run_id), text))


def kind(reply: str) -> str:
    if reply in REFUSALS:
        return "refusal"
    return "hedged" if reply.startswith(tuple(h.split("{")[0] for h in HEDGE_OPENINGS)) else "copy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    seed = parser.parse_args().seed
    from agenttrace_langkit import LangKitScorer

    provider, collect = Provider(seed, requests_per_second=1e9, burst=10**9, max_concurrency=10**9), _Pairs()
    plan = [(a, a.build(provider=provider), a.workload(a.default_runs, seed)) for a in AGENTS]
    for half in (0, 1):
        for a, graph, jobs in plan:
            a.run(graph, jobs[: len(jobs) // 2] if half == 0 else jobs[len(jobs) // 2:], {"callbacks": [collect]})
        provider.update_alias()
    scorer = LangKitScorer()
    metrics = ["refusal_similarity", "refusal_score", "hedging_score", "relevance"]
    scores = scorer.score(collect.pairs, metrics)
    groups: dict[str, list[dict]] = {}
    for (_, reply), score in zip(collect.pairs, scores):
        groups.setdefault(kind(reply), []).append(score)
    print(f"{len(collect.pairs)} replies, model {scorer.model_name}")
    for name in ("copy", "hedged", "refusal"):
        rows = groups.get(name, [])
        for metric in metrics:
            values = [s[metric] for s in rows if s.get(metric) is not None]
            if values:
                print(f"{name:8} n={len(values):4}  {metric:18} min {min(values):.3f} median "
                      f"{statistics.median(values):.3f} max {max(values):.3f}")
    limits = {"refusal_similarity": 0.4, **scorer.default_thresholds}
    for metric, wanted in (("refusal_similarity", "refusal"), ("refusal_score", "refusal"), ("hedging_score", "hedged")):
        if metric in limits:
            shares = ", ".join(f"{name} {sum(s[metric] > limits[metric] for s in rows) / len(rows):.1%}"
                               for name, rows in groups.items() if rows)
            print(f"{metric} > {limits[metric]:g} flags: {shares} (should flag: {wanted})")
    others = [s["refusal_similarity"] for k in ("copy", "hedged") for s in groups.get(k, [])]
    refusals = [s["refusal_similarity"] for s in groups.get("refusal", [])]
    if others and refusals:
        print(f"refusal_similarity: highest non-refusal {max(others):.3f}, lowest refusal {min(refusals):.3f}: "
              f"midpoint {(max(others) + min(refusals)) / 2:.3f}")

if __name__ == "__main__":
    main()
