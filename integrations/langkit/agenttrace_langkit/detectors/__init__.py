"""Refusal and hedging detectors: logistic regressions on the all-MiniLM-L6-v2 response embedding.

The scorer already embeds every response for LangKit's refusal similarity; the detectors reuse that
embedding (normalized, 384 numbers) and add one dot product each, so they cost next to nothing on
the metric worker. The weights are plain JSON (``detectors_v1.json``), read with numpy; they are
rebuilt from the example set (``examples_v1.json``) by ``python -m agenttrace_langkit.detectors.build``
(scikit-learn, build time only), which also picks each threshold on a labeled calibration file.

Metrics (0..1, the model's probability):

- ``refusal_score``: the reply declines the request, in whole or in part (an outright no, a policy
  citation, "I'd rather not", or an offer of something else in place of what was asked);
- ``hedging_score``: the reply hedges instead of directing ("you may want to check...", "a few items
  may still be available").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "detectors_v1.json"
EXAMPLES = HERE / "examples_v1.json"
#: metric name → the example group its model separates from the rest
METRICS = {"refusal_score": "refusal", "hedging_score": "hedge"}


@dataclass(frozen=True)
class Detector:
    metric: str
    weights: "object"  # numpy vector, one weight per embedding dimension
    bias: float
    threshold: float

    def score(self, embeddings):
        """Probabilities (numpy, one per row) for normalized embeddings (numpy, rows × dims)."""
        import numpy as np

        return 1.0 / (1.0 + np.exp(-(embeddings @ self.weights + self.bias)))


def load(path: Path = WEIGHTS) -> Mapping[str, Detector]:
    """The shipped detectors, by metric name (none when the weights file is absent: while building it)."""
    import numpy as np

    if not Path(path).is_file():
        return {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {name: Detector(name, np.asarray(d["weights"], dtype=np.float32), float(d["bias"]), float(d["threshold"]))
            for name, d in data["detectors"].items()}


def thresholds(path: Path = WEIGHTS) -> dict[str, float]:
    """The calibrated flag threshold of each detector (what a profile's ``thresholds`` should use)."""
    return {name: float(d["threshold"]) for name, d in json.loads(Path(path).read_text(encoding="utf-8"))["detectors"].items()}
