"""Light metrics: computed on every covered step, on the agent's thread, in microseconds."""

from __future__ import annotations

from typing import Any, Mapping


def light_metrics(response: str, attributes: Mapping[str, Any], duration_s: float) -> dict[str, float]:
    out = {
        "response_length": float(len(response)),
        "empty_output": 1.0 if not response.strip() else 0.0,
        "latency_ms": duration_s * 1000.0,
    }
    for name, key in (("input_tokens", "gen_ai.usage.input_tokens"), ("output_tokens", "gen_ai.usage.output_tokens")):
        if isinstance(attributes.get(key), (int, float)):
            out[name] = float(attributes[key])
    return out
