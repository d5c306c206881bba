"""Model router: score a marketing question's complexity, then send it to a cheap or a capable model.

``triage`` scores the question (length and analysis keywords); a LangGraph conditional edge
(``choose_model``) routes to the ``cheap`` node (``gpt-4o-mini``) or the ``capable`` node
(``gpt-4.1``). agenttrace records the decision as ``agenttrace.route.*`` on the routing span.
"""

from __future__ import annotations

import random
import re
from typing import Any, Literal, Mapping, Optional

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from .catalog import PRODUCTS, SEGMENTS
from .jobs import Job, Outcome, Progress, invoke_each
from .provider import Request, fill

NAME = "model-router"
CHEAP, CAPABLE = "gpt-4o-mini", "gpt-4.1"
SYSTEM = "You are the marketing assistant of Northwind Outfitters."
KEYWORDS = ("compare", "analyse", "analyze", "strategy", "forecast", "budget", "plan", "why", "trade-off", "experiment")
THRESHOLD = 0.5


class RouterState(TypedDict, total=False):
    question: str
    product: str
    audience: str
    complexity: float
    answer: str


def complexity(question: str) -> float:
    """0..1: longer questions and analysis keywords score higher."""
    words = re.findall(r"[a-z'-]+", question.lower())
    hits = sum(1 for k in KEYWORDS if k in words)
    return round(min(1.0, len(words) / 60 + 0.2 * hits), 3)


def choose_model(state: RouterState) -> Literal["cheap", "capable"]:
    """The routing decision: the capable model for complex questions."""
    return "capable" if state["complexity"] >= THRESHOLD else "cheap"


def build(llm: BaseChatModel, capable: Optional[BaseChatModel] = None):
    """The router; ``capable`` defaults to ``llm`` (the route is still decided and traced)."""
    models = {"cheap": llm, "capable": capable or llm}

    def triage(state: RouterState) -> dict:
        return {"complexity": complexity(state["question"])}

    def answer_with(tier: str):
        def answer(state: RouterState, config) -> dict:
            prompt = f"{state['question']}\nProduct: {state['product']}\nAudience: {state['audience']}"
            return {"answer": models[tier].invoke([SystemMessage(SYSTEM), HumanMessage(prompt)], config).content}
        return answer

    g = StateGraph(RouterState)
    g.add_node("triage", triage)
    g.add_node("cheap", answer_with("cheap"))
    g.add_node("capable", answer_with("capable"))
    g.add_edge(START, "triage")
    g.add_conditional_edges("triage", choose_model, ["cheap", "capable"])
    g.add_edge("cheap", END)
    g.add_edge("capable", END)
    return g.compile(name=NAME)


SIMPLE = ("Suggest three hashtags for the {product}.", "Write a one-line tweet about the {product}.",
          "Give me a catchy name for a {product} bundle.")
COMPLEX = ("Compare e-mail and paid social for {audience} buying the {product}, and plan a budget split for next quarter.",
           "Analyse why {audience} might not convert on the {product} page and propose a strategy with three experiments to run.",
           "Forecast demand for the {product} among {audience} and explain the trade-off between discounting and bundling.")


def workload(count: int, seed: int = 0) -> list[Job]:
    """``count`` questions, about 60% simple and 40% complex."""
    rng = random.Random(f"{seed}|router")
    jobs = []
    for i in range(count):
        product, seg = rng.choice(PRODUCTS), rng.choice(SEGMENTS)
        template = rng.choice(COMPLEX if rng.random() < 0.4 else SIMPLE)
        question = fill(template, {"product": product.name, "audience": seg.audience})
        jobs.append(Job({"question": question, "product": product.name, "audience": seg.audience},
                        {"metadata": {"segment": seg.id}, "tags": ["router"]}))
    return jobs


def run(graph, jobs: list[Job], config: Optional[Mapping[str, Any]] = None, progress: Optional[Progress] = None) -> Outcome:
    """One question per job, in order."""
    return invoke_each(graph, jobs, config, progress)


# --- the simulated model's side -------------------------------------------------------------------

SHORT = {"hashtag": ["#{tag} #GetOutside #NorthwindOutfitters"],
         "tweet": ["The {product} is here: made for your next trail, and ready when you are."],
         "name": ["The {product} Trail Kit.", "Everything {audience} need for a weekend outside."]}
ANALYSIS = ("For {audience}, the {product} works best when the message is specific.",
            "E-mail converts existing customers cheaply, while paid social finds new ones at a higher cost.",
            "Start with a small test: two subject lines, one landing page change and a bundle offer.",
            "Measure conversion per segment for two weeks before moving more budget.")


def writer(request: Request) -> list[str]:
    """Short answers for simple asks, a few sentences of analysis for complex ones."""
    values = {**request.fields, "tag": request.fields.get("product", "Outdoors").replace(" ", "")}
    lowered = request.text.lower()
    short = next((t for key, t in SHORT.items() if key in lowered), None)
    if short is not None and complexity(request.text.splitlines()[0]) < THRESHOLD:
        return [fill(s, values) for s in short]
    return [fill(s, values) for s in ANALYSIS]
