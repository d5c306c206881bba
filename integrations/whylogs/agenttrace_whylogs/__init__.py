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

__all__ = ["DriftConfig", "DriftError", "DriftResult", "Finding", "OVERALL", "ProfileStore", "detect"]

_HOME = {"DriftConfig": "rules", "DriftError": "rules", "DriftResult": "rules", "Finding": "rules", "detect": "rules",
         "OVERALL": "store", "ProfileStore": "store"}


def __getattr__(name: str):
    # whylogs takes seconds to import: loaded on first use, so `agenttrace --help` (which loads the
    # `drift` command from this package) stays quick
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
