"""Golden run results from a real LangGraph agent, for the ``golden compare`` tests.

A two-node e-mail graph (subject line, then body copy) over a ScriptedChatModel whose replies are
drawn by a seeded random generator: per example a base rate of hedged copy ("might", "perhaps") and
of softened urgency ("whenever suits you" for "ends tonight"). ``shift`` adds to both rates: the
"new model version" that hedges more and softens urgency. Simple real evaluators score each
repeat; the results are the ``agenttrace.golden.run/1`` file ``golden run`` writes.
"""

from __future__ import annotations

import random
import re
import time
from typing import TypedDict

from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph

from agenttrace.testing import ScriptedChatModel
from agenttrace_phoenix.golden.results import EvaluatorInfo, ExampleResult, PhoenixInfo, RepeatResult, RunResult

EXAMPLES = 10
PRODUCTS = ["trail shoes", "rain jacket", "tent", "headlamp", "sleeping bag", "stove", "backpack", "fleece",
            "water filter", "trekking poles"]
HEDGE = re.compile(r"\b(might|perhaps|maybe|possibly)\b", re.I)
URGENT = re.compile(r"\b(tonight|last chance|ends)\b", re.I)
EVALUATORS = {
    "trajectory_match": EvaluatorInfo("pass"), "route_consistency": EvaluatorInfo("pass"),
    "refusal": EvaluatorInfo("pass"), "format": EvaluatorInfo("pass"),
    "judge.hedging": EvaluatorInfo("score", "maximize"), "judge.urgency_kept": EvaluatorInfo("score", "maximize"),
    "relevance": EvaluatorInfo("score", "maximize"), "total_tokens": EvaluatorInfo("score", "minimize"),
}


class State(TypedDict, total=False):
    product: str
    subject: str
    body: str


def scripted_model(rng: random.Random, hedge_rate: float, soften_rate: float) -> ScriptedChatModel:
    def reply(messages) -> str:
        prompt = messages[-1].content
        product = prompt.split(":", 1)[1].strip()
        if prompt.startswith("subject"):
            return rng.choice([f"Your {product} is waiting", f"The {product} you looked at", f"{product.title()} for the weekend"])
        hedge = rng.random() < hedge_rate
        soft = rng.random() < soften_rate
        opening = rng.choice(["Get out there with", "Meet", "Step up to"])
        claim = ("It might perhaps be a good fit for some trips." if hedge
                 else rng.choice(["It is built for every trail.", "It handles any weather.", "It is ready when you are."]))
        cta = "Order whenever suits you." if soft else rng.choice(["The offer ends tonight.", "Last chance: ends tonight."])
        return f"{opening} the {product}. {claim} {cta}"

    return ScriptedChatModel(replies=[reply], model="copy-model")


def build_agent(model: ScriptedChatModel):
    def subject_line(state: State) -> State:
        return {"subject": model.invoke([HumanMessage(f"subject: {state['product']}")]).content}

    def body_copy(state: State) -> State:
        return {"body": model.invoke([HumanMessage(f"body: {state['product']}")]).content}

    graph = StateGraph(State)
    graph.add_node("subject_line", subject_line)
    graph.add_node("body_copy", body_copy)
    graph.add_edge(START, "subject_line")
    graph.add_edge("subject_line", "body_copy")
    graph.add_edge("body_copy", END)
    return graph.compile()


def score(output: str, route: list, product: str, tokens: int) -> tuple[dict, dict, dict]:
    hedged, urgent = HEDGE.search(output), URGENT.search(output)
    words = set(re.findall(r"\w+", output.lower()))
    reference = set(re.findall(r"\w+", f"the {product} is built for every trail the offer ends tonight"))
    scores = {"trajectory_match": float(route == ["subject_line", "body_copy"]),
              "refusal": float(not output.lower().startswith(("i can't", "i cannot"))),
              "format": float(len(output) <= 200 and product in output),
              "judge.hedging": 0.0 if hedged else 1.0, "judge.urgency_kept": 1.0 if urgent else 0.0,
              "relevance": len(words & reference) / len(words | reference), "total_tokens": float(tokens)}
    labels = {"judge.hedging": "hedged" if hedged else "confident", "judge.urgency_kept": "kept" if urgent else "softened"}
    explanations = {"judge.hedging": f"hedges with {hedged.group(0)!r}" if hedged else "states the benefit plainly",
                    "judge.urgency_kept": f"keeps the deadline ({urgent.group(0)!r})" if urgent else
                    "the call to action has no deadline left"}
    return scores, labels, explanations


def golden_run(name: str, seed: int, repeats: int = 3, shift: float = 0.0, examples: int = EXAMPLES,
               phoenix: PhoenixInfo | None = None) -> RunResult:
    """Run the agent ``repeats`` times on every example; the run's results."""
    rng = random.Random(seed)
    out = []
    for i in range(examples):
        product = PRODUCTS[i % len(PRODUCTS)]
        model = scripted_model(rng, hedge_rate=0.05 + 0.03 * (i % 4) + shift, soften_rate=0.05 + 0.02 * (i % 3) + shift)
        agent = build_agent(model)
        reps = []
        for _ in range(repeats):
            route: list = []
            started = time.perf_counter()
            final: dict = {}
            for update in agent.stream({"product": product}, stream_mode="updates"):
                route += list(update)
                for node_out in update.values():
                    final.update(node_out)
            latency = (time.perf_counter() - started) * 1000
            output = f"{final['subject']}\n{final['body']}"
            tokens = len(output.split())
            scores, labels, explanations = score(output, route, product, tokens)
            reps.append(RepeatResult(output=output, latency_ms=latency, total_tokens=tokens, route_path=route,
                                     scores=scores, labels=labels, explanations=explanations))
        consistent = float(len({tuple(r.route_path) for r in reps}) == 1)
        for r in reps:
            r.scores["route_consistency"] = consistent
        out.append(ExampleResult(id=f"email-{i:03d}", metadata={"product": product}, repeats=reps))
    return RunResult(suite="email", run=name, created="2026-11-30T20:00:00+00:00", repeats=repeats,
                     agent="tests.golden_compare_runs:build_agent", evaluators=dict(EVALUATORS), examples=out,
                     phoenix=phoenix or PhoenixInfo())
