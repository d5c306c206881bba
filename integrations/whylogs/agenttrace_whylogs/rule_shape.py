"""``trajectory_shape``: ``tool_sequence`` and ``route_path`` by chi-squared on their frequent
items, ``step_count`` by KS (the tests of ``rule_distribution``)."""

from __future__ import annotations

from .rule_base import Candidate, SegmentInput, kind
from .rule_distribution import categorical, numeric


class TrajectoryShape:
    name = "trajectory_shape"

    def evaluate(self, inp: SegmentInput) -> list[Candidate]:
        out: list[Candidate] = []
        for c in inp.names:
            if kind(c, inp) == "shape":
                out += numeric(inp, self.name, c) if c == "step_count" else categorical(inp, self.name, c)
        return out
