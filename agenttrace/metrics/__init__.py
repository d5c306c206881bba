"""Quality metrics on spans: per-step profiles, stratified sampling, a background scoring worker."""

from .engine import MetricsEngine, Scorer
from .profiles import LIGHT_METRICS, Profile, ProfileError, ProfileSet, Rule, load

__all__ = ["LIGHT_METRICS", "MetricsEngine", "Profile", "ProfileError", "ProfileSet", "Rule", "Scorer", "load"]
