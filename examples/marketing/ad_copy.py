"""Ad-copy batch generator: brief → write → check, hundreds of variants written concurrently.

Every product × channel × angle gets several variants; a thread pool invokes the graph for all of
them at once, so the rate-limited provider answers 429s. The model call is wrapped in LangChain's
``with_retry`` (exponential backoff with jitter), so retries happen for real; a variant whose
retries run out is recorded as exhausted and the batch goes on.
"""

from __future__ import annotations

import itertools
import random
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable, Mapping, Optional

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from .catalog import ANGLES, CHANNELS, PRODUCTS
from .jobs import Job, Outcome, Progress, merge_config
from .provider import RateLimitError, Request, fill

NAME = "ad-copy-batch"
SYSTEM = "You write short ad copy for Northwind Outfitters. First sentence: the headline. Then one or two body sentences."
RETRY = {"retry_if_exception_type": (RateLimitError,), "wait_exponential_jitter": True, "stop_after_attempt": 6,
         "exponential_jitter_params": {"initial": 0.02, "max": 0.5, "jitter": 0.05}}


class AdState(TypedDict, total=False):
    product: str
    benefit: str
    channel: str
    angle: str
    variant: int
    brief: str
    copy: str
    headline: str
    within_limit: bool


def build(llm: BaseChatModel, policy: Optional[Callable[[BaseChatModel], Runnable]] = None):
    """The ad-copy agent; its model call retries rate-limit errors with backoff and jitter, or as
    ``policy`` (the model → the model wrapped in a retry policy) says."""
    model = policy(llm) if policy is not None else llm.with_retry(**RETRY)

    def brief(state: AdState) -> dict:
        limit = CHANNELS[state["channel"]]
        return {"brief": (f"Write variant {state['variant']} of an ad.\nProduct: {state['product']}\n"
                          f"Benefit: {state['benefit']}\nChannel: {state['channel']}\nAngle: {state['angle']}\n"
                          f"Headline limit: {limit} characters")}

    def write(state: AdState, config) -> dict:
        reply = model.invoke([SystemMessage(SYSTEM), HumanMessage(state["brief"])], config)
        return {"copy": reply.content}

    def check(state: AdState) -> dict:
        headline = state["copy"].split(". ")[0].strip()
        return {"headline": headline, "within_limit": len(headline) <= CHANNELS[state["channel"]]}

    g = StateGraph(AdState).add_sequence([("brief", brief), ("write", write), ("check", check)])
    g.add_edge(START, "brief")
    g.add_edge("check", END)
    return g.compile(name=NAME)


def workload(count: int = 240, seed: int = 0) -> list[Job]:
    """``count`` variants cycling through product × channel × angle (shuffled by the seed)."""
    combos = list(itertools.product(PRODUCTS, CHANNELS, ANGLES))
    random.Random(f"{seed}|ad-copy").shuffle(combos)
    jobs = []
    for i in range(count):
        product, channel, angle = combos[i % len(combos)]
        inputs = {"product": product.name, "benefit": product.benefit, "channel": channel, "angle": angle,
                  "variant": i // len(combos) + 1}
        jobs.append(Job(inputs, {"metadata": {"channel": channel, "angle": angle, "variant_id": f"ad-{i:04d}"},
                                 "tags": ["ad-copy", f"channel:{channel}"]}))
    return jobs


def run(graph, jobs: list[Job], config: Optional[Mapping[str, Any]] = None, progress: Optional[Progress] = None,
        max_workers: int = 16) -> Outcome:
    """All variants at once on ``max_workers`` threads; exhausted retries are recorded per variant."""
    outcome = Outcome()
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ad-copy") as pool:
        futures = [pool.submit(graph.invoke, job.inputs, merge_config(config, job.config)) for job in jobs]
        for future in as_completed(futures):
            outcome.record(future.exception())
            if progress:
                progress(1)
    return outcome


# --- the simulated model's side -------------------------------------------------------------------

HEADLINES = {
    "price": ("Save on the {product}", "The {product}, for less"),
    "quality": ("Built to last: {product}", "The {product}, made right"),
    "adventure": ("Go further with the {product}", "Your next trip needs the {product}"),
    "sustainability": ("The {product}, made responsibly", "Recycled, rugged: the {product}"),
    "comfort": ("All-day comfort: {product}", "The comfy {product}"),
}
BODIES = ("The {product} is made to {benefit}.", "Made to {benefit}: the {product}, ready when you are.")
CALLS = {"search": "Shop now.", "social": "Tap to see every colour.", "display": "Find your size today."}


def writer(request: Request) -> list[str]:
    """Headline, body and call to action for the brief's product, angle and channel."""
    f = request.fields
    headline = request.rng.choice(HEADLINES.get(f.get("angle", ""), HEADLINES["adventure"]))
    return [fill(headline, f) + ".", fill(request.rng.choice(BODIES), f), CALLS.get(f.get("channel", ""), "Learn more.")]
