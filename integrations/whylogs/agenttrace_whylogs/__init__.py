"""whylogs drift detection for agenttrace.

- :class:`ProfileStore`: trajectory rows → whylogs profiles per time window × segment, in a
  directory any number of processes write into; merged profiles read back per range.
- :func:`detect`: drift rules, baseline window vs current window, per segment → ranked
  :class:`Finding` s (distribution drift, score shift, refusal rate, trajectory shape, model version change).

Import this package only where whylogs is installed (it needs numpy<2); agenttrace's core does not depend on it.
"""

import logging

# whylogs logs a warning per histogram of a near-constant column (float32 bin edges); it is noise here
logging.getLogger("whylogs.viz.utils.quantile_stats").setLevel(logging.ERROR)

from .rules import DriftConfig, DriftError, DriftResult, Finding, detect
from .store import OVERALL, ProfileStore

__all__ = ["DriftConfig", "DriftError", "DriftResult", "Finding", "OVERALL", "ProfileStore", "detect"]
