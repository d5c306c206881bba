"""Format checks from the example's metadata: ``max_length`` (characters), ``required_phrases``
(each present, case-insensitive) and ``cta_required`` (a call to action: :data:`CTA`, or the
example's own ``cta_pattern`` regex). Pass when every check given passes; None when none is given."""

from __future__ import annotations

import re
from typing import Mapping, Optional

from . import Evaluation, passed

CTA = re.compile(r"\b(shop now|buy now|order now|book now|sign up|subscribe|register|get started|learn more|"
                 r"claim|redeem|use code|click|tap|visit|call us|reply|join|download|try it|start your|"
                 r"add to cart|grab|save \d+%|last chance|ends? (tonight|today|soon)|expires?)\b", re.I)


def format_check(output: str, metadata: Mapping) -> Optional[Evaluation]:
    problems, checks = [], 0
    if metadata.get("max_length"):
        checks += 1
        if len(output) > int(metadata["max_length"]):
            problems.append(f"{len(output)} chars > max_length {metadata['max_length']}")
    for phrase in metadata.get("required_phrases") or []:
        checks += 1
        if phrase.lower() not in output.lower():
            problems.append(f"missing {phrase!r}")
    if metadata.get("cta_required"):
        checks += 1
        pattern = re.compile(metadata["cta_pattern"], re.I) if metadata.get("cta_pattern") else CTA
        if not pattern.search(output):
            problems.append("no call to action")
    if not checks:
        return None
    return passed(not problems, "; ".join(problems) or f"{checks} check(s) passed")
