"""Trajectory match through agentevals (``create_trajectory_match_evaluator``).

Our recorded tool calls (``[{"name", "args"}]``, in call order) become the OpenAI-style message
list agentevals expects: one assistant message per tool call, each with one ``tool_calls`` entry
(``{"function": {"name", "arguments": <JSON>}}``) — the same for the output and the reference,
so the modes keep agentevals' documented meaning:

- ``strict``: the same tool calls in the same order;
- ``unordered``: the same tool calls in any order;
- ``subset``: the output's tool calls are all in the reference (no extra calls);
- ``superset``: the reference's tool calls are all in the output (extra calls allowed);

and tool arguments ``exact`` (equal), ``ignore`` (names only), ``subset`` (the output's
arguments are a subset of the reference's), ``superset`` (the output's include the reference's).
"""

from __future__ import annotations

import json
from typing import Optional, Sequence

from . import Evaluation, passed

MODES = ("strict", "unordered", "subset", "superset")
ARG_MODES = ("exact", "ignore", "subset", "superset")


def to_messages(tool_calls: Sequence[dict]) -> list[dict]:
    """``[{"name", "args"}]`` → agentevals' OpenAI-style message list."""
    return [{"role": "assistant", "content": "",
             "tool_calls": [{"function": {"name": c["name"], "arguments": json.dumps(c.get("args") or {}, sort_keys=True)}}]}
            for c in tool_calls]


class TrajectoryMatch:
    def __init__(self, mode: str = "strict", tool_args: str = "exact"):
        if mode not in MODES:
            raise ValueError(f"trajectory mode must be one of {', '.join(MODES)}, got {mode!r}")
        if tool_args not in ARG_MODES:
            raise ValueError(f"tool-args mode must be one of {', '.join(ARG_MODES)}, got {tool_args!r}")
        from agentevals.trajectory.match import create_trajectory_match_evaluator

        self.mode, self.tool_args = mode, tool_args
        self._evaluate = create_trajectory_match_evaluator(trajectory_match_mode=mode, tool_args_match_mode=tool_args)

    def __call__(self, tool_calls: Sequence[dict], reference: Optional[Sequence[dict]]) -> Optional[Evaluation]:
        if reference is None:
            return None
        result = self._evaluate(outputs=to_messages(tool_calls), reference_outputs=to_messages(reference))
        ok = bool(result["score"])
        got = ">".join(c["name"] for c in tool_calls) or "(none)"
        want = ">".join(c["name"] for c in reference) or "(none)"
        return passed(ok, f"{self.mode}/{self.tool_args}: {got} vs reference {want}")
