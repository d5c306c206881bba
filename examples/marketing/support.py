"""Support chatbot: multi-turn conversations with order-status and return tools.

A model node and a ``ToolNode`` joined by ``tools_condition``; a ``MemorySaver`` checkpointer keeps
each conversation's history under its ``thread_id`` (which agenttrace turns into the session id),
and every conversation has two or three customer turns.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Annotated, Any, Mapping, Optional

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import MemorySaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition
from typing_extensions import TypedDict

from .catalog import PRODUCTS
from .jobs import Job, Outcome, Progress, merge_config
from .provider import Request, fields, fill

NAME = "support-bot"
SYSTEM = "You are the customer support assistant of Northwind Outfitters. Use the tools to look up orders and start returns."
ORDER_ID = re.compile(r"\bNW-\d{5}\b")
REASON = re.compile(r"\bit is ([^.?!]+)", re.IGNORECASE)
#: status → when the parcel arrives (or arrived)
STATUSES = {"in transit": "on Thursday", "out for delivery": "today", "delivered": "yesterday",
            "waiting at the pick-up point": "since Monday"}


@tool
def order_status(order_id: str) -> str:
    """Look up the shipping status of an order."""
    status = sorted(STATUSES)[int(hashlib.sha256(order_id.encode()).hexdigest(), 16) % len(STATUSES)]
    return f"Order: {order_id}\nStatus: {status}\nWhen: {STATUSES[status]}\nCarrier: DHL"


@tool
def start_return(order_id: str, reason: str) -> str:
    """Start a return for an order and get the return number."""
    return f"Order: {order_id}\nReturn: RMA-{order_id[3:]}\nReason: {reason}\nLabel: sent by e-mail"


TOOLS = [order_status, start_return]


class SupportState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def build(llm: BaseChatModel):
    """The support agent, with a MemorySaver checkpointer (pass ``thread_id`` per conversation)."""
    model = llm.bind_tools(TOOLS)

    def assistant(state: SupportState, config) -> dict:
        return {"messages": [model.invoke([SystemMessage(SYSTEM), *state["messages"]], config)]}

    g = StateGraph(SupportState)
    g.add_node("assistant", assistant)
    g.add_node("tools", ToolNode(TOOLS))
    g.add_edge(START, "assistant")
    g.add_conditional_edges("assistant", tools_condition)
    g.add_edge("tools", "assistant")
    return g.compile(name=NAME, checkpointer=MemorySaver())


STATUS_ASKS = ("Hi, where is my order {order}? It was supposed to arrive last week.",
               "Can you check the status of order {order}?", "My order {order} still hasn't shown up, any news?")
RETURN_ASKS = ("I'd like to return the {product}, because it is {reason}.",
               "Can I send the {product} back? It is {reason}.")
REASONS = ("too small", "the wrong colour", "not waterproof enough", "damaged")
FOLLOW_UPS = ("Thanks! Is there a discount on my next order?", "Great, can you recommend something similar to the {product}?")


def workload(count: int, seed: int = 0) -> list[Job]:
    """``count`` conversations: status question, return request, and sometimes a follow-up."""
    rng = random.Random(f"{seed}|support")
    jobs = []
    for i in range(count):
        values = {"order": f"NW-{rng.randint(10000, 99999)}", "product": rng.choice(PRODUCTS).name,
                  "reason": rng.choice(REASONS)}
        turns = [rng.choice(STATUS_ASKS), rng.choice(RETURN_ASKS)] + ([rng.choice(FOLLOW_UPS)] if rng.random() < 0.5 else [])
        thread = f"support-{seed}-{i:04d}"
        config = {"configurable": {"thread_id": thread}, "metadata": {"channel": "chat"}, "tags": ["support"]}
        jobs.append(Job([fill(t, values) for t in turns], config, len(turns)))
    return jobs


def run(graph, jobs: list[Job], config: Optional[Mapping[str, Any]] = None, progress: Optional[Progress] = None) -> Outcome:
    """Each conversation turn by turn on its own thread id; ``progress`` counts turns."""
    outcome = Outcome()
    for job in jobs:
        turn_config = merge_config(config, job.config)
        for turn in job.inputs:
            try:
                graph.invoke({"messages": [HumanMessage(turn)]}, turn_config)
                outcome.record()
            except Exception as err:  # noqa: BLE001 - the span holds the error; next turn
                outcome.record(err)
            if progress:
                progress(1)
    return outcome


# --- the simulated model's side -------------------------------------------------------------------

def _call(name: str, args: dict, request: Request) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{request.rng.getrandbits(48):012x}"}])


def writer(request: Request):
    """Calls the tools the customer's message needs, then answers from the tool's result."""
    last = request.messages[-1]
    if last.type == "tool":
        result = fields(str(last.content))
        if "return" in result:
            return [fill("I've started the return for order {order}; your return number is {return}.", result),
                    "The return label is on its way to your inbox."]
        return [fill("Your order {order} is {status} ({when}).", result),
                fill("It ships with {carrier}, so you can follow it on their site.", result)]
    text = request.text
    history = " ".join(str(m.content) for m in request.messages if m.type == "human")
    orders = ORDER_ID.findall(text) or ORDER_ID.findall(history)
    lowered = text.lower()
    if orders and ("return" in lowered or "send" in lowered and "back" in lowered):
        reason = REASON.search(text)
        args = {"order_id": orders[-1], "reason": reason.group(1) if reason else "customer request"}
        return _call("start_return", args, request)
    if orders and any(w in lowered for w in ("where", "status", "shown up")):
        return _call("order_status", {"order_id": orders[-1]}, request)
    product = next((p.name for p in PRODUCTS if p.name in history), "our trail range")
    return ["Thanks for shopping with Northwind Outfitters!",
            f"If you like the {product}, have a look at the new arrivals next to it: "
            "members get 10% off their next order with the code TRAIL10."]
