"""Quality metrics on spans: per-step profiles, stratified sampling, a background scoring worker,
and LLM judges (``judge:<name>`` metrics) on a judge worker."""

from .engine import MetricsEngine, Scorer
from .judges import Judge, JudgeLimits, JudgeResult, JudgeSpec, build_judges
from .profiles import LIGHT_METRICS, Profile, ProfileError, ProfileSet, Rule, load

__all__ = ["LIGHT_METRICS", "Judge", "JudgeLimits", "JudgeResult", "JudgeSpec", "MetricsEngine", "Profile", "ProfileError",
           "ProfileSet", "Rule", "Scorer", "build_judges", "load"]
