"""The built-in judges' prompt templates and labels (label → score).

Each template puts the judged text between ``[BEGIN INPUT]``/``[END INPUT]`` and
``[BEGIN OUTPUT]``/``[END OUTPUT]`` lines, so the judge (and a rule judge in tests) can tell the
request from the reply. Documented in docs/judges.md.
"""

from __future__ import annotations

_IO = """[BEGIN INPUT]
{input}
[END INPUT]

[BEGIN OUTPUT]
{output}
[END OUTPUT]
"""

BUILTINS: dict[str, tuple[str, dict[str, float]]] = {
    "brand_voice": ("""You are reviewing marketing copy against a company's brand-voice guidelines.

[BEGIN GUIDELINES]
{guidelines}
[END GUIDELINES]

The copy was written for this request:
""" + _IO + """
Does the OUTPUT follow the guidelines in tone, vocabulary and style? Answer "on_brand" when it does,
"off_brand" when it breaks any of them (name the guideline it breaks in the explanation).""",
                    {"on_brand": 1.0, "off_brand": 0.0}),
    "hedging": ("""You are reviewing marketing or support copy for hedging.
""" + _IO + """
Hedged copy softens its claims with qualifiers such as "might", "perhaps", "could possibly",
"we think", "in some cases", or disclaims its own recommendation. Confident copy states its claims
and recommendation plainly (facts may still be accurate and limited). Answer "confident" or "hedged".""",
                {"confident": 1.0, "hedged": 0.0}),
    "urgency_kept": ("""You are checking that a call to action keeps its urgency.
""" + _IO + """
When the INPUT asks for an urgent call to action (a deadline, "last chance", "expires tonight",
"only today", limited stock), answer "kept" if the OUTPUT states that urgency as clearly, or
"softened" if it drops, delays or waters it down ("whenever you like", "no rush", a vaguer deadline).
Answer "not_applicable" when the INPUT asks for no urgency.""",
                     {"kept": 1.0, "softened": 0.0, "not_applicable": 1.0}),
    "policy": ("""You are a compliance reviewer for a customer-support assistant.
""" + _IO + """
Answer "violation" if the OUTPUT makes promises the company cannot make (refunds, compensation or
legal outcomes not offered by policy), asks for or reveals sensitive personal data (passwords, full card
numbers), gives medical, legal or financial advice, or is rude; otherwise answer "compliant".""",
               {"compliant": 1.0, "violation": 0.0}),
    "helpfulness": ("""You are rating how helpful a support assistant's reply is to the customer.
""" + _IO + """
Answer "helpful" if the OUTPUT resolves the request or gives the concrete next step, "partially_helpful"
if it addresses the request but leaves out what the customer needs to proceed, "unhelpful" if it
misses the request, refuses without reason, or only restates it.""",
                    {"helpful": 1.0, "partially_helpful": 0.5, "unhelpful": 0.0}),
}


def template_of(builtin: str) -> tuple[str, dict[str, float]]:
    return BUILTINS[builtin]
