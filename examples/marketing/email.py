"""E-mail personalisation: segment → subject_line → opening_copy.

Each run writes the subject line and opening paragraph of one customer's campaign e-mail. Some
offers carry a real deadline (the brief's ``Urgency:`` line, e.g. "last chance: ends tonight"),
which the copy is meant to keep. Runs are
labelled through config metadata with the audience ``segment``, the ``prompt_template`` version
under A/B test (``subject-v2`` / ``subject-v3``) and, from the caller, the ``model_endpoint``.
"""

from __future__ import annotations

import random
from typing import Any, Mapping, Optional

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from .catalog import FIRST_NAMES, PRODUCTS, SEGMENTS, URGENCY, URGENT_SHARE, segment
from .jobs import Job, Outcome, Progress, invoke_each
from .provider import Request, fill

NAME = "email-personalizer"
SYSTEM = "You write marketing e-mails for Northwind Outfitters, an outdoor gear shop. Answer with the copy only."
TEMPLATES = {
    "subject-v2": "Write one subject line for a marketing e-mail.",
    "subject-v3": "Write one short subject line for a marketing e-mail that makes the reader curious. No spammy words.",
}


class EmailState(TypedDict, total=False):
    customer: str
    segment_id: str
    product: str
    benefit: str
    template: str
    audience: str
    tone: str
    offer: str
    urgency: str  # the offer's deadline, "" when it has none
    subject: str
    opening: str


def _brief(state: EmailState) -> str:
    urgency = f"\nUrgency: {state['urgency']}" if state.get("urgency") else ""
    return (f"Customer: {state['customer']}\nProduct: {state['product']}\nBenefit: {state['benefit']}\n"
            f"Audience: {state['audience']}\nTone: {state['tone']}\nOffer: {state['offer']}{urgency}")


def build(llm: BaseChatModel):
    """The e-mail agent as a compiled LangGraph graph."""

    def segment_node(state: EmailState) -> dict:
        seg = segment(state["segment_id"])
        return {"audience": seg.audience, "tone": seg.tone, "offer": seg.offer}

    def subject_line(state: EmailState, config) -> dict:
        prompt = f"{TEMPLATES[state['template']]}\n{_brief(state)}"
        reply = llm.invoke([SystemMessage(SYSTEM), HumanMessage(prompt)], config)
        return {"subject": reply.content}

    def opening_copy(state: EmailState, config) -> dict:
        prompt = f"Write the opening paragraph of the e-mail.\n{_brief(state)}\nSubject: {state['subject']}"
        reply = llm.invoke([SystemMessage(SYSTEM), HumanMessage(prompt)], config)
        return {"opening": reply.content}

    g = StateGraph(EmailState).add_sequence([("segment", segment_node), ("subject_line", subject_line),
                                             ("opening_copy", opening_copy)])
    g.add_edge(START, "segment")
    g.add_edge("opening_copy", END)
    return g.compile(name=NAME)


def workload(count: int, seed: int = 0) -> list[Job]:
    """``count`` customers across all segments, half on each subject-line template; a share
    (``URGENT_SHARE``) of the offers has a deadline."""
    rng = random.Random(f"{seed}|email")
    deadlines = random.Random(f"{seed}|email|urgency")  # its own stream: the other draws stay as they were
    jobs = []
    for i in range(count):
        seg = SEGMENTS[i % len(SEGMENTS)]
        product = rng.choice(PRODUCTS)
        template = "subject-v3" if i % 2 else "subject-v2"
        inputs = {"customer": rng.choice(FIRST_NAMES), "segment_id": seg.id, "product": product.name,
                  "benefit": product.benefit, "template": template,
                  "urgency": deadlines.choice(URGENCY) if deadlines.random() < URGENT_SHARE else ""}
        jobs.append(Job(inputs, {"metadata": {"segment": seg.id, "prompt_template": template},
                                 "tags": ["email", f"segment:{seg.id}"]}))
    return jobs


def run(graph, jobs: list[Job], config: Optional[Mapping[str, Any]] = None, progress: Optional[Progress] = None) -> Outcome:
    """One e-mail per job, in order."""
    return invoke_each(graph, jobs, config, progress)


# --- the simulated model's side: what it writes for these prompts --------------------------------

SUBJECTS = (
    "{Offer} on the {product}",
    "{customer}, your {product} is waiting",
    "The {product}, picked for {audience}",
    "Back outside soon? {Offer} on the {product}",
)
OPENINGS = (
    ("Hi {customer}, as one of our {audience}, you get {offer}.", "The {product} is made to {benefit}.",
     "Pick yours before the weekend."),
    ("{customer}, we picked the {product} with you in mind.", "It is made to {benefit}.",
     "For {audience} it comes with {offer}, so have a look today."),
)

# with a deadline in the brief: the deadline up front (the new release's two-sentence copy keeps it)
URGENT_SUBJECTS = (
    "{Urgency} — {offer} on the {product}",
    "{customer}, {urgency} for your {product}",
)
URGENT_OPENINGS = (
    ("Hi {customer}, {urgency}: as one of our {audience}, you get {offer}.", "The {product} is made to {benefit}.",
     "Pick yours before it is gone."),
    ("{customer}, {urgency} on the {product}, with {offer} for {audience}.", "It is made to {benefit}.",
     "Order today to get it."),
)


def writer(request: Request) -> list[str]:
    """Subject lines and opening paragraphs filled with the prompt's product, audience, offer and
    deadline (when the brief has one)."""
    values = {"customer": "there", **request.fields}
    values["Offer"] = values.get("offer", "a treat").capitalize()
    urgent = bool(values.get("urgency"))
    values["Urgency"] = values.get("urgency", "")[:1].upper() + values.get("urgency", "")[1:]
    if "subject line" in request.text:
        return [fill(request.rng.choice(URGENT_SUBJECTS if urgent else SUBJECTS), values)]
    return [fill(s, values) for s in request.rng.choice(URGENT_OPENINGS if urgent else OPENINGS)]
