"""Heavy metrics through the real LangKit package: parity, and the worker on a real agent."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("agenttrace_langkit", reason="LangKit integration not installed (tests/run.sh installs it)")

from agenttrace import CallbackHandler  # noqa: E402
from agenttrace import semconv as sc  # noqa: E402
from agenttrace.metrics import MetricsEngine, load  # noqa: E402
from agenttrace_langkit import LangKitScorer, default_model  # noqa: E402
from conftest import ask, build_agent, run_python  # noqa: E402
from corpus import pairs  # noqa: E402

HEDGING = json.dumps({"hedging": ["You may want to check", "It might be worth verifying", "I'm not entirely sure"]})


@pytest.fixture(scope="module")
def scorer():
    return LangKitScorer(theme_json=HEDGING)


@pytest.fixture(scope="module")
def langkit_reference():
    from langkit import input_output, themes

    themes.init(transformer_name=default_model(), theme_json=json.dumps({**json.load(open(themes.lang_config.theme_file_path)), **json.loads(HEDGING)}))
    input_output.init(transformer_name=default_model())
    return themes, input_output


def test_scores_match_langkit_within_1e_4(scorer, langkit_reference):
    assert_matches_langkit(scorer, langkit_reference)


def assert_matches_langkit(scorer, langkit_reference):
    """The scorer's refusal, hedging and relevance scores within 1e-4 of LangKit's on the parity corpus."""
    themes, input_output = langkit_reference
    corpus = pairs(120)
    assert len({r for _, r in corpus}) > 40 and any(r == "" for _, r in corpus)
    ours = scorer.score(corpus, ["refusal_similarity", "relevance", "hedging_similarity"])
    worst = 0.0
    for (prompt, response), got in zip(corpus, ours):
        ref = {
            "refusal_similarity": themes.group_similarity(response, "refusal"),
            "hedging_similarity": themes.group_similarity(response, "hedging"),
            "relevance": input_output.prompt_response_similarity({"prompt": [prompt], "response": [response]})[0],
        }
        for name, value in ref.items():
            worst = max(worst, abs(got[name] - value))
    assert worst < 1e-4, worst
    refusal_scores = [s["refusal_similarity"] for (p, r), s in zip(corpus, ours) if r.startswith(("I'm sorry", "I cannot", "Sorry"))]
    answer_scores = [s["refusal_similarity"] for (p, r), s in zip(corpus, ours) if r.startswith(("Your order", "Spring"))]
    assert min(refusal_scores) > max(answer_scores)  # the metric separates refusals from copy


def test_langkit_light_text_statistics(scorer):
    import textstat

    text = "Spring into savings: 20% off everything this week only! Free shipping, too."
    (row,) = scorer.score([("", text)], ["flesch_reading_ease", "lexicon_count", "sentence_count"])
    assert row == {"flesch_reading_ease": textstat.flesch_reading_ease(text), "lexicon_count": 12.0,
                   "sentence_count": float(textstat.sentence_count(text))}


PROFILES = {
    "profiles": {
        "full": {"metrics": ["refusal_similarity", "relevance", "response_length", "empty_output"], "sample_rate": 1.0,
                 "stratify_by": ["metadata.segment"], "thresholds": {"refusal_similarity": 0.4}},
        "tools": {"metrics": ["response_length", "latency_ms"]},
    },
    "rules": [{"match": {"operation": "chat"}, "profile": "full"}, {"match": {"kind": "tool"}, "profile": "tools"}],
}


def test_worker_scores_agent_steps_off_the_hot_path(provider, spans, scorer):
    from langchain_core.messages import AIMessage

    from agenttrace.testing import ScriptedChatModel

    engine = MetricsEngine(load(PROFILES), scorer)
    handler = CallbackHandler(provider, metrics=engine)
    build_agent().invoke(ask(), config={"callbacks": [handler], "metadata": {"segment": "vip"}})
    refuse = ScriptedChatModel(replies=[AIMessage(content="I'm sorry, but I can't help with that request.")], model="gpt-4o")
    refuse.invoke("Write a subject line", config={"callbacks": [handler]})
    assert engine.flush(30)
    s = spans()
    chats = s.named("chat gpt-4o")
    assert len(chats) == 4  # every chat span ended, by the worker
    for chat in chats:
        a = chat.attributes
        assert -1.0 <= a["agenttrace.metric.relevance"] <= 1.0
        assert 0.0 <= a["agenttrace.metric.refusal_similarity"] <= 1.0
        assert a[sc.METRIC_SAMPLED] is True
        events = {e.attributes[sc.EVALUATION_NAME]: e for e in chat.events if e.name == "gen_ai.evaluation.result"}
        assert set(events) >= {"refusal_similarity", "relevance"}
        assert events["refusal_similarity"].attributes[sc.EVALUATION_SCORE_LABEL] in ("pass", "flagged")
        assert chat.end_time - chat.start_time < 1e9  # the true end time, not when the worker got to it
    flagged = [c for c in chats if c.attributes.get(sc.REVIEW_REQUIRED)]
    assert len(flagged) == 1 and "refusal_similarity" in flagged[0].attributes[sc.REVIEW_REASON]
    assert sum(n for (window, metric), n in engine.flags.items() if metric == "refusal_similarity") == 1
    tool = s.one("execute_tool order_status")
    assert tool.attributes["agenttrace.metric.response_length"] > 0 and "agenttrace.metric.relevance" not in tool.attributes


class SlowScorer:
    metrics = ("relevance",)

    def __init__(self):
        self.calls = 0

    def score(self, pairs, metrics):
        self.calls += 1
        time.sleep(0.2)
        return [{"relevance": 0.5} for _ in pairs]


def test_full_queue_skips_metrics_and_never_blocks(provider, spans, caplog):
    engine = MetricsEngine(load({"profiles": {"p": {"metrics": ["relevance"]}}, "rules": [{"match": {"kind": "llm"}, "profile": "p"}]}),
                           SlowScorer(), queue_size=2, batch_size=1)
    handler = CallbackHandler(provider, metrics=engine)
    graph = build_agent()
    t0 = time.perf_counter()
    with caplog.at_level("WARNING", logger="agenttrace"):
        for _ in range(5):
            graph.invoke(ask(), config={"callbacks": [handler]})
    elapsed = time.perf_counter() - t0
    assert engine.skipped > 0
    assert elapsed < 0.2 * engine.skipped  # had the agent waited for the queue, skips would not exist
    assert len([r for r in caplog.records if "metric queue full" in r.getMessage()]) == 1
    assert engine.flush(30)
    s = spans()
    chats = s.named("chat gpt-4o")
    assert len(chats) == 15  # nothing lost: skipped steps end normally, scored ones end on the worker
    assert sum(1 for c in chats if c.attributes.get(sc.METRIC_SKIPPED)) == engine.skipped
    assert sum(1 for c in chats if "agenttrace.metric.relevance" in c.attributes) == 15 - engine.skipped


def test_heavy_metric_without_scorer_is_a_clear_error():
    with pytest.raises(RuntimeError, match="pip install"):
        MetricsEngine(load({"profiles": {"p": {"metrics": ["refusal_similarity"]}}, "rules": []}), None)


def test_configure_with_profile_file(tmp_path):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import agenttrace

    path = tmp_path / "profiles.toml"
    path.write_text("[profiles.full]\nmetrics = [\"refusal_similarity\", \"relevance\"]\nthresholds = { refusal_similarity = 0.4 }\n\n"
                    "[[rules]]\nmatch = { operation = \"chat\" }\nprofile = \"full\"\n")
    exporter = InMemorySpanExporter()
    t = agenttrace.configure(project="m", span_exporter=exporter, tracer_provider=TracerProvider(), profiles=path)
    build_agent().invoke(ask(), config={"callbacks": [t.callback_handler]})
    assert t.flush(30)
    chats = [s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o"]
    assert len(chats) == 3 and all("agenttrace.metric.refusal_similarity" in c.attributes for c in chats)
    t.shutdown()


def test_loading_the_model_draws_nothing_on_the_applications_stderr():
    done = run_python("from agenttrace_langkit import LangKitScorer\n"
                      "from transformers.utils import logging\n"
                      "scorer = LangKitScorer()\n"
                      "print(scorer.score([('hi', 'Sorry, I cannot help with that.')], ['refusal_similarity'])[0]"
                      "['refusal_similarity'] > 0.4, logging.is_progress_bar_enabled())\n", timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]  # scored, and the application's own bars are back on
    assert "Loading weights" not in done.stderr and "it/s]" not in done.stderr, done.stderr


def _refusal_reviews(provider, exporter, scorer, setting):
    """Review reasons of two refusals (one phrased like LangKit's examples, one not) and one plain reply,
    scored on the worker with both refusal scores thresholded and ``refusal = setting``."""
    from langchain_core.messages import AIMessage

    from agenttrace.testing import ScriptedChatModel
    from agenttrace.trajectory import features, record_from_sdk

    profile = {"metrics": ["refusal_similarity", "refusal_score", "hedging_score"], "refusal": setting,
               "thresholds": {"refusal_similarity": 0.4, "refusal_score": scorer.default_thresholds["refusal_score"]}}
    engine = MetricsEngine(load({"profiles": {"p": profile}, "rules": [{"match": {"operation": "chat"}, "profile": "p"}]}), scorer)
    handler = CallbackHandler(provider, metrics=engine)
    replies = ["I'm sorry, but I can't help with that.", "I'd rather not put a countdown in the email when the sale has no end date.",
               "Your order shipped today and arrives Thursday."]
    for reply in replies:
        ScriptedChatModel(replies=[AIMessage(content=reply)], model="gpt-4o").invoke("Write the email", config={"callbacks": [handler]})
    assert engine.flush(30)
    chats = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time)
    exporter.clear()
    flagged = [features(record_from_sdk(c), [record_from_sdk(c)])["refusal_flagged"] for c in chats]
    return [c.attributes.get(sc.REVIEW_REASON, "") for c in chats], flagged


def test_refusal_flag_follows_the_profile_setting(provider, exporter, scorer):
    reasons, flagged = _refusal_reviews(provider, exporter, scorer, "detector")
    assert [r.split(" ", 1)[0] for r in reasons] == ["refusal_score", "refusal_score", ""]  # LangKit's 0.4 misses the second
    assert flagged == [1.0, 1.0, 0.0]
    reasons, flagged = _refusal_reviews(provider, exporter, scorer, "langkit")
    assert [r.split(" ", 1)[0] for r in reasons] == ["refusal_similarity", "", ""]
    assert flagged == [1.0, 0.0, 0.0]


def test_the_detector_flags_with_its_calibrated_threshold_when_the_profile_sets_none(provider, exporter, scorer):
    from langchain_core.messages import AIMessage

    from agenttrace.testing import ScriptedChatModel

    profiles = load({"profiles": {"p": {"metrics": ["refusal_score", "hedging_score"]}},
                     "rules": [{"match": {"operation": "chat"}, "profile": "p"}]})
    engine = MetricsEngine(profiles, scorer)
    handler = CallbackHandler(provider, metrics=engine)
    for reply in ("I won't write copy that pretends the sale ends tonight.", "Your order shipped today and arrives Thursday."):
        ScriptedChatModel(replies=[AIMessage(content=reply)], model="gpt-4o").invoke("Write it", config={"callbacks": [handler]})
    assert engine.flush(30)
    refusal, plain = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time)
    exporter.clear()
    limit = scorer.default_thresholds["refusal_score"]
    assert refusal.attributes[sc.REVIEW_REASON].startswith("refusal_score ") and refusal.attributes[sc.REVIEW_REASON].endswith(f"> {limit:g}")
    assert sc.REVIEW_REQUIRED not in plain.attributes
    labels = {e.attributes[sc.EVALUATION_NAME]: e.attributes.get(sc.EVALUATION_SCORE_LABEL) for e in plain.events}
    assert labels == {"refusal_score": "pass", "hedging_score": "pass"}
