"""Metric profiles (TOML, YAML, dict: one schema), rule matching, deterministic stratified sampling."""

from __future__ import annotations

import textwrap

import pytest

from agenttrace.metrics import ProfileError, load
from agenttrace.metrics.profiles import Profile
from agenttrace.metrics.sampling import StratifiedSampler

MINIMAL_TOML = """
[profiles.full]
metrics = ["refusal_similarity", "relevance"]
sample_rate = 1.0
stratify_by = ["metadata.prompt_template", "metadata.segment"]
thresholds = { refusal_similarity = 0.4 }

[[rules]]
match = { operation = "chat" }
profile = "full"
"""

MINIMAL_DICT = {
    "profiles": {"full": {"metrics": ["refusal_similarity", "relevance"], "sample_rate": 1.0,
                          "stratify_by": ["metadata.prompt_template", "metadata.segment"],
                          "thresholds": {"refusal_similarity": 0.4}}},
    "rules": [{"match": {"operation": "chat"}, "profile": "full"}],
}


def test_minimal_example_in_toml_yaml_and_dict_is_the_same(tmp_path):
    toml = tmp_path / "profiles.toml"
    toml.write_text(MINIMAL_TOML)
    import yaml

    yml = tmp_path / "profiles.yaml"
    yml.write_text(yaml.safe_dump(MINIMAL_DICT))
    a, b, c = load(toml), load(yml), load(MINIMAL_DICT)
    assert a == b == c
    full = a.profiles["full"]
    assert full.metrics == ("refusal_similarity", "relevance") and full.thresholds == {"refusal_similarity": 0.4}
    assert a.select({"operation": "chat", "kind": "llm"}) is full
    assert a.select({"operation": "execute_tool"}) is None


def test_rules_match_by_kind_name_globs_tags_and_metadata():
    ps = load({
        "profiles": {"light": {"metrics": ["response_length"]}, "heavy": {"metrics": ["refusal_similarity"], "sample_rate": 0.1}},
        "rules": [
            {"match": {"node": "write_*", "metadata": {"segment": "vip*"}, "tags": ["monitored"]}, "profile": "heavy"},
            {"match": {"kind": "tool", "tool": "order_*"}, "profile": "light"},
            {"match": {"model": "gpt-4o*"}, "profile": "light"},
        ],
    })
    assert ps.select({"node": "write_subject", "metadata": {"segment": "vip-eu"}, "tags": ["monitored", "x"]}).name == "heavy"
    assert ps.select({"node": "write_subject", "metadata": {"segment": "mass"}, "tags": ["monitored"]}) is None
    assert ps.select({"kind": "tool", "tool": "order_status"}).name == "light"
    assert ps.select({"model": "gpt-4o-mini"}).name == "light"


RULE = '\n[[rules]]\nmatch = {match}\nprofile = "full"\n'


FIELD_CASES = [
    # every number must be finite and in range
    ('[profiles.full]\nmetrics = ["relevance"]\nthresholds = { relevance = nan }\n', 3, "profiles.full.thresholds.relevance", "finite number"),
    ('[profiles.full]\nmetrics = ["relevance"]\nthresholds = { relevance = -inf }\n', 3, "profiles.full.thresholds.relevance", "finite number"),
    ('[profiles.full]\nmetrics = ["relevance"]\nsample_rate = nan\n', 3, "profiles.full.sample_rate", "between 0 and 1"),
    ('[profiles.full]\nmetrics = ["relevance"]\nsample_rate = inf\n', 3, "profiles.full.sample_rate", "between 0 and 1"),
    ('[profiles.full]\nmetrics = ["relevance"]\nmin_per_stratum = 2.5\n', 3, "profiles.full.min_per_stratum", "non-negative integer"),
    # every list must be a list, of known names where names are fixed
    ('[profiles.full]\nmetrics = "relevance"\n', 2, "profiles.full.metrics", "list of metric names"),
    ('[profiles.full]\nmetrics = ["relevance"]\nstratify_by = "model"\n', 3, "profiles.full.stratify_by", "list of keys"),
    ('[profiles.full]\nmetrics = ["relevance"]\nstratify_by = ["metdata.segment"]\n', 3, "profiles.full.stratify_by", "unknown key 'metdata.segment'"),
    ('[profiles.full]\nmetrics = ["relevance"]\nstratify_by = ["metadata."]\n', 3, "profiles.full.stratify_by", "unknown key"),
    # match values must be what matching compares with
    ('[profiles.full]\nmetrics = []\n' + RULE.format(match="{ tags = 5 }"), 5, "rules.0.match.tags", "list of tags"),
    ('[profiles.full]\nmetrics = []\n' + RULE.format(match='{ tags = ["a", 5] }'), 5, "rules.0.match.tags", "list of tags"),
    ('[profiles.full]\nmetrics = []\n' + RULE.format(match="{ operation = 5 }"), 5, "rules.0.match.operation", "glob pattern"),
    ('[profiles.full]\nmetrics = []\n' + RULE.format(match="{ metadata = { segment = 1 } }"), 5, "rules.0.match.metadata", "key = glob"),
    ('[profiles.full]\nmetrics = []\n' + RULE.format(match='"chat"'), 5, "rules.0.match", "must be a table"),
    ('[profiles.full]\nmetrics = []\n\n[[rules]]\nprofile = ["full"]\n', 5, "rules.0.profile", "unknown profile"),
    # unknown keys at every level
    ('[profiles.full]\nmetrics = []\nstratifyby = ["model"]\n', 3, "profiles.full.stratifyby", "unknown profile key"),
    ('[profiles.full]\nmetrics = []\n\n[[rules]]\nprofile = "full"\nwhen = {}\n', 6, "rules.0.when", "unknown rule key"),
    ('[profile.full]\nmetrics = []\n', 1, "profile", "unknown top-level key"),
]


@pytest.mark.parametrize("body,line,key,words", FIELD_CASES + [
    ('[profiles.full]\nmetrics = ["refusal_similarity"]\nsample_rate = 3\n', 3, "profiles.full.sample_rate", "between 0 and 1"),
    ('[profiles.full]\nmetrics = ["refusal_simlarity"]\n', 2, "profiles.full.metrics", "unknown metric"),
    ('[profiles.full]\nmetrics = []\n\n[[rules]]\nmatch = { operation = "chat" }\nprofile = "ful"\n', 6, "rules.0.profile", "unknown profile"),
    ('[profiles.full]\nmetrics = []\n\n[[rules]]\nmatch = { colour = "red" }\nprofile = "full"\n', 5, "rules.0.match.colour", "unknown match key"),
    ('[profiles.full]\nmetrics = ["relevance"]\nthresholds = { refusal_similarity = 0.4 }\n', 3, "profiles.full.thresholds.refusal_similarity", "does not compute"),
], ids=lambda v: v if isinstance(v, str) and v.startswith(("profile", "rules")) else "")
def test_bad_profile_files_name_the_line_and_key(tmp_path, body, line, key, words):
    path = tmp_path / "p.toml"
    path.write_text(body)
    with pytest.raises(ProfileError) as err:
        load(path)
    message = str(err.value)
    assert f"line {line}" in message and f"'{key}'" in message and words in message and str(path) in message


def test_yaml_gets_the_same_checks(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("profiles:\n  full:\n    metrics: [relevance]\n    thresholds: {relevance: .nan}\n")
    with pytest.raises(ProfileError, match=r"line 4, key 'profiles.full.thresholds.relevance': must be a finite"):
        load(path)
    path.write_text("profiles:\n  full:\n    metrics: []\nrules:\n  - profile: full\n    match:\n      tags: 5\n")
    with pytest.raises(ProfileError, match=r"line 7, key 'rules.0.match.tags'"):
        load(path)


def test_a_valid_tag_rule_still_matches():
    ps = load({"profiles": {"p": {"metrics": []}}, "rules": [{"match": {"tags": "vip"}, "profile": "p"}]})
    assert ps.select({"tags": ["vip", "x"]}).name == "p" and ps.select({"tags": ["x"]}) is None


def test_unreadable_files_are_profile_errors(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[profiles.full]\nmetrics = ["relevance"]\n# caf\xe9\n')
    with pytest.raises(ProfileError, match=r"latin1.toml: line 3: not UTF-8 text \(byte 0xe9\)"):
        load(path)
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ProfileError, match=r"dir.toml: is a directory"):
        load(tmp_path / "dir.toml")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ProfileError, match=r"dir.yaml: is a directory"):
        load(tmp_path / "dir.yaml")


def test_bad_yaml_and_missing_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent("""
        profiles:
          full:
            metrics: [relevance]
            sample_rate: lots
    """))
    with pytest.raises(ProfileError, match=r"line 5.*'profiles.full.sample_rate'"):
        load(path)
    path.write_text("profiles: [unclosed")
    with pytest.raises(ProfileError, match="invalid YAML"):
        load(path)
    with pytest.raises(ProfileError, match="not found"):
        load(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[profiles.full\n")
    with pytest.raises(ProfileError, match="invalid TOML"):
        load(tmp_path / "bad.toml")


def test_sampling_is_deterministic_per_trace_and_stratified():
    profile = Profile("p", ("relevance",), sample_rate=0.05, stratify_by=("metadata.segment",), min_per_stratum=10)
    a, b = StratifiedSampler(), StratifiedSampler()
    steps = [({"metadata": {"segment": "mass"}}, 1_000 + i) for i in range(2_000)] + \
            [({"metadata": {"segment": "rare"}}, 900_000 + i) for i in range(12)]
    decisions_a = [a.sampled(profile, trace, step) for step, trace in steps]
    # the same trace asked again (a later step of the trajectory) gets the same answer
    assert [a.sampled(profile, trace, step) for step, trace in steps] == decisions_a
    decisions_b = [b.sampled(profile, trace, step) for step, trace in steps]
    assert decisions_a == decisions_b  # reproducible across processes
    shares = a.shares()
    seen_mass, taken_mass = shares[("p", "mass")]
    assert seen_mass == 2_000 and 0.03 * 2_000 < taken_mass < 0.09 * 2_000
    assert shares[("p", "rare")][1] >= 10  # the rare stratum still gets its share


def test_floors_flag_low_scores_and_are_checked_like_thresholds(tmp_path):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agenttrace.metrics.engine import _flag

    profiles = load({"profiles": {"p": {"metrics": ["relevance", "refusal_similarity"],
                                        "thresholds": {"refusal_similarity": 0.4}, "floors": {"relevance": 0.3}}},
                     "rules": [{"match": {"operation": "chat"}, "profile": "p"}]})
    profile = profiles.profiles["p"]
    assert profile.floors == {"relevance": 0.3}
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    from collections import Counter

    for relevance in (0.12, 0.55):
        span = tracer.start_span("chat m")
        _flag(span, profile, {"relevance": relevance, "refusal_similarity": 0.1}, Counter(), 0)
        span.end()
    low, fine = exporter.get_finished_spans()
    events = {e.attributes["gen_ai.evaluation.name"]: e.attributes for e in low.events}
    assert events["relevance"]["gen_ai.evaluation.score.label"] == "flagged"
    assert events["relevance"]["gen_ai.evaluation.explanation"] == "relevance 0.120 < floor 0.3"
    assert low.attributes["agenttrace.review.reason"] == "relevance 0.120 < 0.3"
    fine_events = {e.attributes["gen_ai.evaluation.name"]: e.attributes for e in fine.events}
    assert fine_events["relevance"]["gen_ai.evaluation.score.label"] == "pass"
    assert fine_events["relevance"]["gen_ai.evaluation.explanation"] == "relevance 0.550 ≥ floor 0.3"
    assert "agenttrace.review.required" not in fine.attributes
    with pytest.raises(ProfileError, match="floor for a metric the profile does not compute"):
        load({"profiles": {"p": {"metrics": ["relevance"], "floors": {"refusal_similarity": 0.3}}}, "rules": []})
    with pytest.raises(ProfileError, match="must be a finite number"):
        load({"profiles": {"p": {"metrics": ["relevance"], "floors": {"relevance": "low"}}}, "rules": []})


def test_refusal_setting_picks_the_refusal_score_and_is_checked():
    def profile(**body):
        return load({"profiles": {"p": {"metrics": ["refusal_similarity", "refusal_score"], **body}}, "rules": []}).profiles["p"]

    assert profile().refusal_metric == "refusal_score"  # the detector by default
    assert profile(refusal="langkit").refusal_metric == "refusal_similarity"
    only_langkit = load({"profiles": {"p": {"metrics": ["refusal_similarity"]}}, "rules": []}).profiles["p"]
    assert only_langkit.refusal_metric == "refusal_similarity"  # profiles without the detector keep LangKit's flag
    with pytest.raises(ProfileError, match=r"key 'profiles.p.refusal': must be one of 'detector', 'langkit', got 'lankit'"):
        profile(refusal="lankit")
