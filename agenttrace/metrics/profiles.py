"""Per-step metric profiles: which metrics a step gets, at what sample rate, stratified by what.

One schema for the file (TOML or YAML) and the dict form::

    [profiles.full]
    metrics = ["refusal_similarity", "relevance"]
    sample_rate = 1.0
    stratify_by = ["metadata.prompt_template", "metadata.segment"]
    thresholds = { refusal_similarity = 0.4 }
    refusal = "detector"    # which score's flag is a refusal: "detector" (refusal_score) or "langkit"

    [[rules]]
    match = { operation = "chat" }
    profile = "full"

Rules are tried in order; the first whose ``match`` fits a step picks its profile. Match keys:
``operation`` (gen_ai operation: chat, execute_tool, ...), ``kind`` (run type: llm, tool, chain,
retriever), ``name`` (span/run name), ``node`` (LangGraph node), ``tool``, ``model`` (glob
patterns), ``tags`` (all listed tags present), ``metadata`` (a table of key = glob).

LLM judges are declared in ``[judges.<name>]`` tables and ``[judge_limits]`` (see
:mod:`agenttrace.metrics.judges`); a profile uses one as ``"judge:<name>"`` in its metrics and
samples steps for the judges at ``judge_sample_rate`` (default: its ``sample_rate``).
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, NoReturn, Optional, Sequence, Union

from .judges import JUDGE_PREFIX, JudgeLimits, JudgeSpec, judge_names, parse_judges, parse_limits

LIGHT_METRICS = ("response_length", "empty_output", "latency_ms", "input_tokens", "output_tokens")
KNOWN_HEAVY = ("refusal_similarity", "relevance", "refusal_score", "hedging_score")
#: the ``refusal`` profile setting → the score whose threshold flags a reply as a refusal
REFUSAL_SOURCES = {"detector": "refusal_score", "langkit": "refusal_similarity"}
#: LangKit's light text statistics (its ``textstat`` module), computed on the response by the scorer
TEXT_STATS = ("flesch_reading_ease", "automated_readability_index", "lexicon_count", "sentence_count", "difficult_words")
MATCH_KEYS = {"operation", "kind", "name", "node", "tool", "model", "tags", "metadata"}
PROFILE_KEYS = {"metrics", "sample_rate", "stratify_by", "thresholds", "floors", "min_per_stratum", "refusal",
                "judge_sample_rate"}


class ProfileError(ValueError):
    """A profile file or dict that does not fit the schema; the message names the line and key."""


@dataclass(frozen=True)
class Profile:
    name: str
    metrics: tuple[str, ...] = ()
    sample_rate: float = 1.0
    stratify_by: tuple[str, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=dict)  # flag a step when its score is above
    min_per_stratum: int = 20
    floors: Mapping[str, float] = field(default_factory=dict)  # flag a step when its score is below
    refusal: str = "detector"  # "detector": refusal_score flags refusals; "langkit": refusal_similarity > threshold
    judge_sample_rate: Optional[float] = None  # the judges' sample (None: sample_rate)

    @property
    def refusal_metric(self) -> str:
        """The score whose threshold raises the refusal review flag: the detector's ``refusal_score``
        by default (LangKit's ``refusal_similarity`` when the profile does not compute the detector),
        LangKit's ``refusal_similarity`` with ``refusal = "langkit"``."""
        if self.refusal == "detector" and REFUSAL_SOURCES["detector"] in self.metrics:
            return REFUSAL_SOURCES["detector"]
        return REFUSAL_SOURCES["langkit"]

    @property
    def heavy(self) -> tuple[str, ...]:
        return tuple(m for m in self.metrics if m not in LIGHT_METRICS and not m.startswith(JUDGE_PREFIX))

    @property
    def judges(self) -> tuple[str, ...]:
        """The judges this profile uses (``"judge:<name>"`` metrics)."""
        return judge_names(self.metrics)

    def judge_profile(self) -> "Profile":
        """This profile as the judges' sampler sees it: ``judge_sample_rate``, its own sampling
        decision per trace (the name differs from the heavy metrics' one)."""
        rate = self.sample_rate if self.judge_sample_rate is None else self.judge_sample_rate
        return Profile(f"{self.name}/judges", (), rate, self.stratify_by, {}, self.min_per_stratum)


@dataclass(frozen=True)
class Rule:
    match: Mapping[str, Any]
    profile: str

    def fits(self, step: Mapping[str, Any]) -> bool:
        for key, want in self.match.items():
            if key == "tags":
                have = set(step.get("tags") or ())
                if not set([want] if isinstance(want, str) else want) <= have:
                    return False
            elif key == "metadata":
                md = step.get("metadata") or {}
                if not all(k in md and fnmatch.fnmatchcase(str(md[k]), str(v)) for k, v in want.items()):
                    return False
            else:
                value = step.get(key)
                if value is None or not fnmatch.fnmatchcase(str(value), str(want)):
                    return False
        return True


@dataclass
class ProfileSet:
    profiles: dict[str, Profile]
    rules: list[Rule]
    judges: dict[str, JudgeSpec] = field(default_factory=dict)
    judge_limits: JudgeLimits = field(default_factory=JudgeLimits)

    def select(self, step: Mapping[str, Any]) -> Optional[Profile]:
        for rule in self.rules:
            if rule.fits(step):
                return self.profiles[rule.profile]
        return None

    @property
    def heavy_metrics(self) -> set[str]:
        return {m for p in self.profiles.values() for m in p.heavy}

    @property
    def judged(self) -> bool:
        """Some profile uses a judge."""
        return any(p.judges for p in self.profiles.values())


# --- loading and validation ------------------------------------------------------------------


def _where(locate, *path) -> str:
    line = locate(path) if locate else None
    return f"line {line}, " if line else ""


STRATIFY_KEYS = ("model", "node", "tool", "name", "operation", "kind")
GLOB_MATCH_KEYS = ("operation", "kind", "name", "node", "tool", "model")


def _is_number(value: Any, lo: float = -math.inf, hi: float = math.inf) -> bool:
    """A real, finite number (not a bool, not nan or inf) in [lo, hi]."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and lo <= value <= hi)


def _is_str_list(value: Any) -> bool:
    """A list of strings (a bare string is not a list: ``["a"]``, not ``"a"``)."""
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _known_keys(fail, body: Mapping[str, Any], allowed, what: str, *path) -> None:
    for key in body:
        if key not in allowed:
            fail(f"unknown {what} (expected {', '.join(sorted(allowed))})", *path, key)


def from_dict(data: Mapping[str, Any], *, source: str = "profiles", locate=None, known_metrics: Sequence[str] = (),
              base_dir: Optional[Path] = None) -> ProfileSet:
    """Validate the dict form; a value that does not fit raises :class:`ProfileError` naming the
    line (when ``locate`` finds it) and the key. Numbers must be finite and in range; lists must be
    lists (``["a"]``, not ``"a"``); an unknown key at any level is an error, not ignored."""
    def fail(msg: str, *path) -> NoReturn:
        key = ".".join(str(p) for p in path)
        raise ProfileError(f"{source}: {_where(locate, *path)}key '{key}': {msg}")

    if not isinstance(data, Mapping):
        raise ProfileError(f"{source}: expected a table with 'profiles' and 'rules', got {type(data).__name__}")
    _known_keys(fail, data, ("profiles", "rules", "judges", "judge_limits"), "top-level key")
    judges = parse_judges(data.get("judges"), fail, base_dir)
    judge_limits = parse_limits(data.get("judge_limits"), fail)
    known = set(LIGHT_METRICS) | set(KNOWN_HEAVY) | set(TEXT_STATS) | set(known_metrics)
    profiles: dict[str, Profile] = {}
    raw_profiles = data.get("profiles") or {}
    if not isinstance(raw_profiles, Mapping):
        fail("must be a table of profiles", "profiles")
    for name, body in raw_profiles.items():
        at = ("profiles", name)
        if not isinstance(body, Mapping):
            fail("a profile must be a table", *at)
        _known_keys(fail, body, PROFILE_KEYS, "profile key", *at)
        metrics = body.get("metrics", [])
        if not _is_str_list(metrics):
            fail(f"must be a list of metric names, got {metrics!r}", *at, "metrics")
        for m in metrics:
            if m.startswith(JUDGE_PREFIX):
                if m[len(JUDGE_PREFIX):] not in judges:
                    fail(f"unknown judge {m!r} (declared in [judges.<name>]: {', '.join(sorted(judges)) or 'none'})",
                         *at, "metrics")
            elif m not in known:
                fail(f"unknown metric {m!r} (known: {', '.join(sorted(known))}; custom themes are added with theme_json)", *at, "metrics")
        rate = body.get("sample_rate", 1.0)
        if not _is_number(rate, 0.0, 1.0):
            fail(f"must be a number between 0 and 1, got {rate!r}", *at, "sample_rate")
        strat = body.get("stratify_by", [])
        if not _is_str_list(strat):
            fail(f"must be a list of keys such as 'metadata.segment', 'model', 'node', got {strat!r}", *at, "stratify_by")
        for key in strat:
            if key not in STRATIFY_KEYS and not (key.startswith("metadata.") and len(key) > len("metadata.")):
                fail(f"unknown key {key!r} (expected metadata.<key> or one of {', '.join(STRATIFY_KEYS)})", *at, "stratify_by")
        limits = {}
        for key in ("thresholds", "floors"):
            table = limits[key] = body.get(key, {})
            if not isinstance(table, Mapping):
                fail(f"must be a table of metric = number, got {table!r}", *at, key)
            for metric, value in table.items():
                if metric not in metrics and metric not in LIGHT_METRICS:
                    fail(f"{key[:-1]} for a metric the profile does not compute ({metric!r})", *at, key, metric)
                if not _is_number(value):
                    fail(f"must be a finite number, got {value!r}", *at, key, metric)
        thresholds, floors = limits["thresholds"], limits["floors"]
        refusal = body.get("refusal", "detector")
        if refusal not in REFUSAL_SOURCES:
            fail(f"must be one of {', '.join(repr(k) for k in REFUSAL_SOURCES)}, got {refusal!r}", *at, "refusal")
        jrate = body.get("judge_sample_rate")
        if jrate is not None and not _is_number(jrate, 0.0, 1.0):
            fail(f"must be a number between 0 and 1, got {jrate!r}", *at, "judge_sample_rate")
        mps = body.get("min_per_stratum", 20)
        if isinstance(mps, bool) or not isinstance(mps, int) or mps < 0:
            fail(f"must be a non-negative integer, got {mps!r}", *at, "min_per_stratum")
        profiles[str(name)] = Profile(str(name), tuple(metrics), float(rate), tuple(strat),
                                      {k: float(v) for k, v in thresholds.items()}, mps,
                                      {k: float(v) for k, v in floors.items()}, refusal,
                                      float(jrate) if jrate is not None else None)
    rules: list[Rule] = []
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, (list, tuple)):
        fail("must be an array of tables ([[rules]])", "rules")
    for i, rule in enumerate(raw_rules):
        if not isinstance(rule, Mapping):
            fail("a rule must be a table with 'match' and 'profile'", "rules", i)
        _known_keys(fail, rule, ("match", "profile"), "rule key", "rules", i)
        profile = rule.get("profile")
        if not isinstance(profile, str) or profile not in profiles:
            fail(f"unknown profile {profile!r} (defined: {', '.join(profiles) or 'none'})", "rules", i, "profile")
        match = rule.get("match", {})
        if not isinstance(match, Mapping):
            fail(f"must be a table, got {match!r}", "rules", i, "match")
        _known_keys(fail, match, MATCH_KEYS, "match key", "rules", i, "match")
        for key in GLOB_MATCH_KEYS:
            if key in match and not isinstance(match[key], str):
                fail(f"must be a glob pattern (a string), got {match[key]!r}", "rules", i, "match", key)
        if "tags" in match and not (isinstance(match["tags"], str) or _is_str_list(match["tags"])):
            fail(f"must be a tag or a list of tags (strings), got {match['tags']!r}", "rules", i, "match", "tags")
        if "metadata" in match and not (isinstance(match["metadata"], Mapping)
                                        and all(isinstance(v, str) for v in match["metadata"].values())):
            fail(f"must be a table of key = glob (strings), got {match['metadata']!r}", "rules", i, "match", "metadata")
        rules.append(Rule(dict(match), profile))
    return ProfileSet(profiles, rules, judges, judge_limits)


def _toml_locator(text: str):
    lines = text.splitlines()

    def key_line(start: int, key_name: Any) -> int:
        """1-based line of ``key_name = ...`` in the table starting at ``start`` (else the header's)."""
        key = re.compile(rf"^\s*{re.escape(str(key_name))}\s*=")
        for i in range(start + 1, len(lines)):
            if lines[i].lstrip().startswith("["):
                break
            if key.match(lines[i]):
                return i + 1
        return start + 1

    def locate(path) -> Optional[int]:
        if not path:
            return None
        if path[0] in ("profiles", "judges") and len(path) >= 2:
            header = re.compile(rf"^\s*\[\s*{path[0]}\.\"?{re.escape(str(path[1]))}\"?\s*\]")
            start = next((i for i, l in enumerate(lines) if header.match(l)), None)
            if start is None:
                return None
            return key_line(start, path[2]) if len(path) > 2 else start + 1
        if path[0] == "rules" and len(path) >= 2 and isinstance(path[1], int):
            starts = [i for i, l in enumerate(lines) if re.match(r"^\s*\[\[\s*rules\s*\]\]", l)]
            if path[1] >= len(starts):
                return None
            start = starts[path[1]]
            return key_line(start, path[2]) if len(path) > 2 else start + 1
        key = re.compile(rf"^\s*\[*\s*{re.escape(str(path[0]))}\b")
        return next((i + 1 for i, l in enumerate(lines) if key.match(l)), None)

    return locate


def _yaml_locator(text: str):
    import yaml

    root = yaml.compose(text)

    def locate(path) -> Optional[int]:
        node = root
        line = None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                nxt = next(((k, v) for k, v in node.value if k.value == str(part)), None)
                if nxt is None:
                    return line
                line, node = nxt[0].start_mark.line + 1, nxt[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    return locate


def _read_text(path: Path) -> str:
    """The file's text; a missing, unreadable or non-UTF-8 file is a :class:`ProfileError`."""
    if path.is_dir():
        raise ProfileError(f"{path}: is a directory, not a profile file (.toml, .yaml or .yml)")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProfileError(f"{path}: profile file not found") from None
    except OSError as err:
        raise ProfileError(f"{path}: cannot read the profile file: {err.strerror or err}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ProfileError(f"{path}: line {line}: not UTF-8 text (byte 0x{data[err.start]:02x}); "
                           "save the file as UTF-8") from None


def load(source: Union[str, Path, Mapping[str, Any], ProfileSet], known_metrics: Sequence[str] = ()) -> ProfileSet:
    """A path (``.toml``, ``.yaml``/``.yml``), a dict of the same shape, or a ready ProfileSet."""
    if isinstance(source, ProfileSet):
        return source
    if isinstance(source, Mapping):
        return from_dict(source, known_metrics=known_metrics)
    path = Path(source)
    text = _read_text(path)
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ProfileError(f"{path}: YAML profiles need PyYAML (pip install pyyaml), or use TOML") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark else ""
            raise ProfileError(f"{path}: {where}invalid YAML: {getattr(err, 'problem', err)}") from None
        return from_dict(data, source=str(path), locate=_yaml_locator(text), known_metrics=known_metrics,
                         base_dir=path.parent)
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"{path}: invalid TOML: {err}") from None
    return from_dict(data, source=str(path), locate=_toml_locator(text), known_metrics=known_metrics,
                     base_dir=path.parent)
