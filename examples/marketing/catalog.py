"""The demo's synthetic business: products, audience segments and ad channels (no real data)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    name: str
    benefit: str  # completes "made to ..."


@dataclass(frozen=True)
class Segment:
    id: str
    audience: str
    tone: str
    offer: str


PRODUCTS = (
    Product("TrailBlazer running shoes", "grip wet trails without slipping"),
    Product("AeroLite rain jacket", "keep you dry in a downpour"),
    Product("SummitPro hiking backpack", "carry 30 litres in comfort"),
    Product("Cascade insulated bottle", "keep drinks cold for 24 hours"),
    Product("Ridgeline merino base layer", "keep you warm without the itch"),
    Product("Nomad camping hammock", "set up in two minutes"),
    Product("Glacier down sleeping bag", "keep you warm down to minus ten degrees"),
    Product("Pathfinder GPS watch", "track every climb and descent"),
)

SEGMENTS = (
    Segment("A", "loyal members who shop every season", "warm and appreciative", "early access to the new collection"),
    Segment("B", "lapsed customers who have not ordered in a year", "friendly and inviting", "15% off the next order"),
    Segment("C", "first-time buyers from the spring campaign", "helpful and welcoming", "free shipping on the second order"),
    Segment("D", "bargain hunters who shop the sale", "energetic and direct", "up to 40% off end-of-season stock"),
    Segment("VIP", "top spenders with a personal stylist", "exclusive and personal", "a private preview evening"),
)

#: ad channel → headline character limit
CHANNELS = {"search": 30, "social": 60, "display": 45}

#: real deadlines some offers carry (the brief's ``Urgency:`` line); the copy is to keep them
URGENCY = ("last chance: ends tonight", "48 hours only", "expires at midnight", "only until Sunday")
#: share of e-mail briefs whose offer has a deadline
URGENT_SHARE = 0.4

FIRST_NAMES = ("Alex", "Sam", "Priya", "Jonas", "Mei", "Lucas", "Amara", "Noor", "Elena", "Kofi")

ANGLES = ("price", "quality", "adventure", "sustainability", "comfort")


_BY_ID = {s.id: s for s in SEGMENTS}


def segment(segment_id: str) -> Segment:
    """The segment with this id (KeyError for an unknown one)."""
    return _BY_ID[segment_id]
