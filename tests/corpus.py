"""A varied corpus of prompt/response pairs for metric tests and benchmarks (deterministic)."""

from __future__ import annotations

import itertools
import random

PROMPTS = [
    "Write a subject line for our spring sale aimed at {seg} customers.",
    "Draft the opening paragraph of an e-mail about {product} for {seg} buyers.",
    "Where is my order {n}? It was supposed to arrive yesterday.",
    "Write ad copy for {product} under 20 words.",
    "How do I start a return for order {n}?",
    "Personalise this greeting for {name}, a {seg} customer.",
]
ANSWERS = [
    "Spring into savings: {pct}% off {product} this week only!",
    "Hi {name}, your {product} is waiting — enjoy free shipping on us.",
    "Your order {n} shipped yesterday and should arrive within two days.",
    "To start a return, open Orders, choose order {n} and select 'Return item'.",
    "Meet the new {product}: lighter, faster, and made for {seg} shoppers.",
]
REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "I cannot assist with creating that content.",
    "As an AI, I am unable to write that e-mail.",
    "Sorry, I won't be able to do that.",
]
HEDGES = [
    "You may want to check with your legal team before using a discount claim like {pct}% off.",
    "It might be worth verifying the details, but perhaps something like '{product} deals' could work.",
    "I'm not entirely sure, but you could consider a softer subject line.",
]
ODD = ["", " ", "🎉🎉🎉", "Ça coûte 20 € — très bien ! 日本語のテキスト", "x" * 5000,
       " ".join(["lorem ipsum dolor sit amet"] * 400), "\n\n\t", "NULL", "1234567890"]


def pairs(n: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    fill = dict(seg="loyal", product="running shoes", n="A-1042", name="Zoë", pct=20)
    out = []
    kinds = itertools.cycle(["answer", "answer", "refusal", "hedge", "odd"])
    for i in range(n):
        fill.update(seg=rng.choice(["loyal", "new", "lapsed", "VIP"]), product=rng.choice(["running shoes", "rain jackets", "smart watches"]),
                    n=f"A-{rng.randint(1000, 9999)}", pct=rng.choice([10, 20, 35]))
        prompt = rng.choice(PROMPTS).format(**fill)
        kind = next(kinds)
        if kind == "answer":
            response = rng.choice(ANSWERS).format(**fill)
        elif kind == "refusal":
            response = rng.choice(REFUSALS)
        elif kind == "hedge":
            response = rng.choice(HEDGES).format(**fill)
        else:
            response = ODD[i % len(ODD)]
            if i % 2:
                prompt = ODD[(i // 2) % len(ODD)]
        out.append((prompt, response))
    return out


_WORDS = ("order shipping return refund discount customer product jacket shoes watch battery size colour delivery "
          "warehouse invoice account password subscription newsletter campaign audience segment launch spring summer "
          "winter price offer coupon loyalty member premium budget schedule weekend morning evening tracking courier "
          "package address payment card bank transfer receipt warranty repair replacement exchange store online app "
          "feature update version screen strap material cotton leather waterproof lightweight comfortable durable "
          "stylish sustainable recycled organic local global team manager support agent policy terms privacy data "
          "report summary analysis result growth revenue margin forecast quarter region market trend survey feedback").split()
_OPENERS = ("Sure, here is", "Thanks for asking about", "Good question about", "Here's a quick note on", "Happy to help with",
            "I'm sorry, but I can't help with", "It might be worth checking", "Unfortunately we cannot process",
            "Please find below", "As requested, the details of")


def _sentence(rng: random.Random, words: int) -> str:
    body = " ".join(rng.choice(_WORDS) for _ in range(words))
    return body[0].upper() + body[1:] + rng.choice(".!?..")


def distinct_pairs(n: int, seed: int = 13) -> list[tuple[str, str]]:
    """``n`` prompt/reply pairs in which every text occurs once (no cache can help), lengths like real
    traffic: prompts of one or two sentences, replies from a few words to a few paragraphs (log-normal,
    median ~40 words, some past MiniLM's 256-token window), a numbered id keeping each text new."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        prompt = " ".join(_sentence(rng, rng.randint(6, 18)) for _ in range(rng.randint(1, 2))) + f" (ticket {seed}-{i}-p)"
        words = max(3, min(400, int(rng.lognormvariate(3.7, 0.9))))
        sentences, left = [], words
        while left > 0:
            k = min(left, rng.randint(6, 22))
            sentences.append(_sentence(rng, k))
            left -= k
        reply = f"{rng.choice(_OPENERS)} {rng.choice(_WORDS)} #{seed}-{i}: " + " ".join(sentences)
        out.append((prompt, reply))
    return out
