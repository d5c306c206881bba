"""LLM judges in profiles: the [judges.*] schema, the judge worker (off the agent's thread, limits,
errors, timeouts), results on spans and events, through the real phoenix-evals classification path
with a rule judge (a real LangChain chat model) and real LangGraph agents."""

from __future__ import annotations

import textwrap
import threading

import pytest
from langchain_core.messages import AIMessage

from agenttrace import CallbackHandler
from agenttrace import semconv as sc
from agenttrace.metrics import MetricsEngine, ProfileError, load
from agenttrace.metrics.judges import JudgeLimits, JudgeSpec
from agenttrace.testing import RuleJudgeModel, ScriptedChatModel, judged_output
from conftest import ask, build_agent

pytest.importorskip("phoenix.evals")
from agenttrace_phoenix.judges import PhoenixJudge  # noqa: E402

KEY = "agenttrace.metric.judge.hedging"
HEDGED, CONFIDENT = "It might possibly ship on Monday.", "Your order A1 ships on Monday."

PROFILE_TOML = """
[judges.hedging]
builtin = "hedging"
model = "judge_models:hedging_judge"
timeout = 5

[judges.voice]
builtin = "brand_voice"
guidelines_file = "voice.md"
model = "judge_models:hedging_judge"

[judge_limits]
calls_per_minute = 600
tokens_per_day = 100000

[profiles.support]
metrics = ["response_length", "judge:hedging"]
judge_sample_rate = 1.0

[[rules]]
match = { operation = "chat" }
profile = "support"
"""


def judge_profiles(rate=1.0, limits=None, names=("hedging",), stratify=()):
    data = {"judges": {"hedging": {"builtin": "hedging", "model": "judge_models:hedging_judge", "timeout": 5}},
            "profiles": {"p": {"metrics": [f"judge:{n}" for n in names], "judge_sample_rate": rate,
                               "stratify_by": list(stratify), "min_per_stratum": 0}},
            "rules": [{"match": {"operation": "chat"}, "profile": "p"}]}
    if limits:
        data["judge_limits"] = limits
    return load(data)


def hedging(model=None, timeout=5.0) -> PhoenixJudge:
    return PhoenixJudge(JudgeSpec("hedging", "hedging", None, None, None, "judge_models:hedging_judge", timeout), model)


def agent(reply: str):
    return build_agent(ScriptedChatModel(replies=[reply]), tools=())


def llm_spans(exporter):
    return [s for s in exporter.get_finished_spans() if s.attributes.get(sc.OPERATION) == "chat"]


def run_judged(provider, exporter, engine, reply: str, runs: int):
    """``runs`` runs of a one-step agent answering ``reply``, judged by ``engine``; its chat spans."""
    handler = CallbackHandler(provider, metrics=engine)
    graph = agent(reply)
    for _ in range(runs):
        graph.invoke(ask(), config={"callbacks": [handler]})
    assert engine.flush(30)
    return llm_spans(exporter)


# ------------------------------------------------------------------ profile file


def test_profile_file_declares_judges_limits_and_reads_guidelines_relative_to_it(tmp_path):
    (tmp_path / "voice.md").write_text("Warm, short sentences. Never use exclamation marks.")
    path = tmp_path / "profiles.toml"
    path.write_text(PROFILE_TOML)
    ps = load(path)
    assert ps.judges["hedging"] == JudgeSpec("hedging", "hedging", None, None, None, "judge_models:hedging_judge", 5.0)
    assert ps.judges["voice"].guidelines.startswith("Warm, short sentences")
    assert ps.judge_limits == JudgeLimits(600.0, 100000)
    p = ps.profiles["support"]
    assert p.judges == ("hedging",) and p.heavy == () and ps.heavy_metrics == set() and p.judge_sample_rate == 1.0


@pytest.mark.parametrize("change, message", [
    (('"judge:hedging"]', '"judge:tone"]'), r"line 17, key 'profiles.support.metrics': unknown judge 'judge:tone'"),
    (('builtin = "hedging"', 'builtin = "hedge"'), r"line 3, key 'judges.hedging.builtin': unknown built-in judge 'hedge'"),
    (('timeout = 5', 'timeout = -1'), r"line 5, key 'judges.hedging.timeout': must be a positive number"),
    (('model = "judge_models:hedging_judge"\ntimeout', 'model = "gpt4"\ntimeout'), r"line 4, key 'judges.hedging.model'"),
    (('calls_per_minute = 600', 'calls_per_min = 600'), r"key 'judge_limits.calls_per_min': unknown key"),
    (('judge_sample_rate = 1.0', 'judge_sample_rate = 1.5'), r"line 18, key 'profiles.support.judge_sample_rate'"),
    (('guidelines_file = "voice.md"', 'guidelines_file = "missing.md"'), r"line 9, key 'judges.voice.guidelines_file': cannot read"),
])
def test_bad_judge_entries_are_errors_naming_the_line(tmp_path, change, message):
    (tmp_path / "voice.md").write_text("Warm.")
    path = tmp_path / "profiles.toml"
    path.write_text(PROFILE_TOML.replace(*change))
    with pytest.raises(ProfileError, match=message):
        load(path)


def test_custom_template_needs_output_known_fields_and_choices():
    base = {"profiles": {}, "rules": []}
    with pytest.raises(ProfileError, match="with {output}"):
        load({**base, "judges": {"j": {"template": "Rate {input}", "choices": {"a": 1}, "model": "m:x"}}})
    with pytest.raises(ProfileError, match="unknown template field"):
        load({**base, "judges": {"j": {"template": "{output} {tone}", "choices": {"a": 1}, "model": "m:x"}}})
    with pytest.raises(ProfileError, match="label = score"):
        load({**base, "judges": {"j": {"template": "{output}", "choices": {"a": "high"}, "model": "m:x"}}})
    ps = load({**base, "judges": {"j": {"template": "Clear?\n[BEGIN OUTPUT]\n{output}\n[END OUTPUT]",
                                         "choices": {"clear": 1, "unclear": 0}, "model": "m:x"}}})
    assert ps.judges["j"].choices == {"clear": 1.0, "unclear": 0.0}


# ------------------------------------------------------------------ the judge (real phoenix-evals path)


def test_builtin_judge_labels_through_phoenix_evals_with_the_rule_judge():
    judge = hedging()
    a, b = judge.evaluate("When does A1 ship?", HEDGED), judge.evaluate("When does A1 ship?", CONFIDENT)
    assert (a.label, a.score, b.label, b.score) == ("hedged", 0.0, "confident", 1.0)
    assert a.explanation == "the reply hedges its claim" and a.tokens > 0


def test_rule_judge_sees_only_the_output_between_the_markers():
    seen = []
    model = RuleJudgeModel(decide=lambda p: seen.append(p) or ("confident", "ok"))
    hedging(model).evaluate("Maybe it might ship?", CONFIDENT)  # the INPUT hedges, the OUTPUT does not
    assert "[BEGIN INPUT]" in seen[0] and judged_output(seen[0]) == CONFIDENT


def test_custom_template_judge_and_module_attr_factory():
    from agenttrace_phoenix.judges import create

    judge = create(JudgeSpec("cta", None, "CTA clear?\n[BEGIN OUTPUT]\n{output}\n[END OUTPUT]",
                             {"hedged": 0.0, "confident": 1.0}, None, "judge_models:hedging_judge", 5.0))
    assert judge.evaluate("", HEDGED).label == "hedged"


# ------------------------------------------------------------------ on spans, off the agent's thread


def test_results_on_spans_and_evaluation_events_explanation_only_with_content(provider, exporter):
    for capture in (False, True):
        exporter.clear()
        engine = MetricsEngine(judge_profiles(), judges={"hedging": hedging()})
        handler = CallbackHandler(provider, capture_content=capture, metrics=engine)
        agent(HEDGED).invoke(ask(), config={"callbacks": [handler]})
        assert engine.flush(10)
        (span,) = llm_spans(exporter)
        assert span.attributes[KEY] == 0.0 and span.attributes[KEY + ".label"] == "hedged"
        (event,) = [e for e in span.events if e.name == sc.EVALUATION_EVENT and e.attributes[sc.EVALUATION_NAME] == "judge.hedging"]
        assert event.attributes[sc.EVALUATION_SCORE_VALUE] == 0.0 and event.attributes[sc.EVALUATION_SCORE_LABEL] == "hedged"
        assert (KEY + ".explanation" in span.attributes) is capture
        assert (sc.EVALUATION_EXPLANATION in event.attributes) is capture
        assert event.timestamp == span.end_time  # the step's true end, not the judge's answer time


def test_judges_run_off_the_agents_thread_and_the_span_keeps_its_true_end_time(provider, exporter):
    threads = []
    model = RuleJudgeModel(decide=lambda p: threads.append(threading.current_thread().name) or ("confident", "ok"),
                           latency=0.3)
    engine = MetricsEngine(judge_profiles(), judges={"hedging": hedging(model)})
    handler = CallbackHandler(provider, metrics=engine)
    import time

    t0 = time.perf_counter()
    agent(CONFIDENT).invoke(ask(), config={"callbacks": [handler]})
    took = time.perf_counter() - t0
    assert took < 0.3, "the agent waited for the judge"
    assert engine.flush(10)
    (span,) = llm_spans(exporter)
    assert threads and all(n.startswith("agenttrace-judge") for n in threads)
    assert (span.end_time - span.start_time) / 1e9 < 0.3  # not stretched by the judge's 300 ms
    assert span.attributes[KEY] == 1.0


def test_judge_only_profile_needs_no_langkit_scorer_and_builds_judges_from_the_entry_point(provider, exporter):
    engine = MetricsEngine(judge_profiles())  # judges from the profile (entry point agenttrace.judges: phoenix)
    assert engine.scorer is None and engine.judge_worker is not None
    agent(HEDGED).invoke(ask(), config={"callbacks": [CallbackHandler(provider, metrics=engine)]})
    assert engine.flush(10)
    assert llm_spans(exporter)[0].attributes[KEY + ".label"] == "hedged"


def test_judge_sample_share_is_close_to_the_rate_and_deterministic(provider, exporter):
    model = RuleJudgeModel(default=("confident", "ok"))
    spans = run_judged(provider, exporter, MetricsEngine(judge_profiles(rate=0.2), judges={"hedging": hedging(model)}),
                       CONFIDENT, 300)
    judged = [s for s in spans if KEY in s.attributes]
    assert len(spans) == 300 and 0.13 <= len(judged) / 300 <= 0.27
    assert model.calls == len(judged)
    again = MetricsEngine(judge_profiles(rate=0.2), judges={"hedging": hedging(model)})
    ids = [s.context.trace_id for s in spans]
    p = again.profiles.profiles["p"]
    decided = {t for t in ids if again.sampler.sampled(again._judge_profile(p), t, {})}
    assert decided == {s.context.trace_id for s in judged}


def test_rate_limit_and_cost_cap_skips_are_counted_and_recorded(provider, exporter):
    engine = MetricsEngine(judge_profiles(limits={"calls_per_minute": 3}), judges={"hedging": hedging()})
    spans = run_judged(provider, exporter, engine, HEDGED, 8)
    assert sum(KEY in s.attributes for s in spans) == 3
    assert engine.judge_worker.skipped["rate_limit"] == 5
    assert sum(s.attributes.get(KEY + ".skipped") == "rate_limit" for s in spans) == 5

    exporter.clear()
    engine = MetricsEngine(judge_profiles(limits={"tokens_per_day": 1}), judges={"hedging": hedging()})
    handler, graph = CallbackHandler(provider, metrics=engine), agent(HEDGED)
    for _ in range(4):
        graph.invoke(ask(), config={"callbacks": [handler]})
        assert engine.flush(10)  # one at a time: the day's tokens are counted when a call answers
    spans = llm_spans(exporter)
    assert sum(KEY in s.attributes for s in spans) == 1  # the first call spends the day's budget
    assert engine.judge_worker.skipped["cost_cap"] == 3 and engine.judge_worker.tokens_today > 1
    assert sum(s.attributes.get(KEY + ".skipped") == "cost_cap" for s in spans) == 3


@pytest.mark.parametrize("model_ref, skipped", [("judge_models:failing_judge", None), ("judge_models:slow_judge", "timeout")])
def test_judge_error_or_timeout_is_recorded_and_never_reaches_the_agent(provider, exporter, model_ref, skipped):
    from judge_models import failing_judge, slow_judge

    model = failing_judge if skipped is None else slow_judge()
    engine = MetricsEngine(judge_profiles(), judges={"hedging": hedging(model, timeout=0.3)})
    out = agent(CONFIDENT).invoke(ask(), config={"callbacks": [CallbackHandler(provider, metrics=engine)]})
    assert out["messages"][-1].content == CONFIDENT
    assert engine.flush(5)
    (span,) = llm_spans(exporter)
    assert KEY not in span.attributes
    if skipped:
        assert span.attributes[KEY + ".skipped"] == "timeout" and "timeout" in span.attributes[KEY + ".error"]
        assert engine.judge_worker.skipped["timeout"] == 1
    else:
        assert "judge provider unavailable" in span.attributes[KEY + ".error"]
    assert engine.judge_worker.failed == 1


def test_shutdown_ends_judged_spans_still_waiting_within_its_deadline(provider, exporter):
    from judge_models import slow_judge
    import time

    engine = MetricsEngine(judge_profiles(), judges={"hedging": hedging(slow_judge(), timeout=30)})
    agent(CONFIDENT).invoke(ask(), config={"callbacks": [CallbackHandler(provider, metrics=engine)]})
    t0 = time.monotonic()
    engine.shutdown(timeout=0.4)
    assert time.monotonic() - t0 < 1.0
    (span,) = llm_spans(exporter)
    assert span.attributes[KEY + ".skipped"] == "timeout"


def test_heavy_metrics_and_judges_on_one_span_end_it_once(provider, exporter):
    class Scorer:
        metrics = ("relevance",)

        def score(self, pairs, metrics):
            return [{"relevance": 0.9} for _ in pairs]

    ps = load({"judges": {"hedging": {"builtin": "hedging", "model": "judge_models:hedging_judge"}},
               "profiles": {"p": {"metrics": ["relevance", "judge:hedging"], "sample_rate": 1.0}},
               "rules": [{"match": {"operation": "chat"}, "profile": "p"}]})
    engine = MetricsEngine(ps, Scorer(), judges={"hedging": hedging(RuleJudgeModel(latency=0.2, default=("hedged", "x")))})
    agent(CONFIDENT).invoke(ask(), config={"callbacks": [CallbackHandler(provider, metrics=engine)]})
    assert engine.flush(10)
    (span,) = llm_spans(exporter)
    assert span.attributes["agenttrace.metric.relevance"] == 0.9 and span.attributes[KEY] == 0.0


def test_the_judges_own_phoenix_evals_spans_stay_out_of_the_applications_traces():
    """phoenix-evals traces into the global provider; the judge's prompt holds the judged text."""
    from conftest import run_python

    code = textwrap.dedent("""
        import sys; sys.path.insert(0, "tests")
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        memory = InMemorySpanExporter()
        tp = TracerProvider(); tp.add_span_processor(SimpleSpanProcessor(memory)); trace.set_tracer_provider(tp)
        from agenttrace.metrics.judges import JudgeSpec
        from agenttrace_phoenix.judges import create
        result = create(JudgeSpec("hedging", "hedging", None, None, None, "judge_models:hedging_judge", 5.0)).evaluate("q", "It might ship.")
        print(result.label, len(memory.get_finished_spans()))
    """)
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["hedged", "0"]


def test_judge_strings_pass_the_redaction_hook(provider, exporter):
    engine = MetricsEngine(judge_profiles(), judges={"hedging": hedging()})
    handler = CallbackHandler(provider, capture_content=True, metrics=engine,
                              redact=lambda key, text: text.replace("hedges", "[redacted]"))
    agent(HEDGED).invoke(ask(), config={"callbacks": [handler]})
    assert engine.flush(10)
    (span,) = llm_spans(exporter)
    assert span.attributes[KEY + ".explanation"] == "the reply [redacted] its claim"
    (event,) = [e for e in span.events if e.attributes.get(sc.EVALUATION_NAME) == "judge.hedging"]
    assert event.attributes[sc.EVALUATION_EXPLANATION] == "the reply [redacted] its claim"


def test_a_floor_on_a_judge_score_raises_the_review_flag_beside_langkits(provider, exporter):
    """``floors = { "judge:hedging" = 0.5 }``: a hedged reply (score 0) is flagged for review with the
    judge's label in the reason, next to a LangKit floor flag on the same span (neither overwrites
    the other); a confident reply is not flagged."""
    class Scorer:
        metrics = ("relevance",)

        def score(self, pairs, metrics):
            return [{"relevance": 0.1} for _ in pairs]

    ps = load({"judges": {"hedging": {"builtin": "hedging", "model": "judge_models:hedging_judge"}},
               "profiles": {"p": {"metrics": ["relevance", "judge:hedging"], "sample_rate": 1.0,
                                  "floors": {"relevance": 0.3, "judge:hedging": 0.5}}},
               "rules": [{"match": {"operation": "chat"}, "profile": "p"}]})
    for reply, flagged in ((HEDGED, True), (CONFIDENT, False)):
        exporter.clear()
        engine = MetricsEngine(ps, Scorer(), judges={"hedging": hedging()})
        agent(reply).invoke(ask(), config={"callbacks": [CallbackHandler(provider, metrics=engine)]})
        assert engine.flush(10)
        (span,) = llm_spans(exporter)
        reason = span.attributes[sc.REVIEW_REASON]
        assert span.attributes[sc.REVIEW_REQUIRED] is True and "relevance 0.100 < 0.3" in reason
        assert ("judge.hedging 0.000 < 0.5 (hedged)" in reason) is flagged, reason


@pytest.mark.parametrize("shape", ["react_agent", "agent_executor", "supervisor", "langchain_agent"])
def test_judges_score_every_reply_of_agents_nobody_here_wrote(provider, exporter, shape):
    """LangGraph's prebuilt ReAct agent, a classic AgentExecutor, a langgraph-supervisor team and
    LangChain's create_agent: every chat step that answers with text is judged through the real
    phoenix-evals path, a step that only called tools is not (nothing to judge, no judge call
    spent), and the agent's own answer is untouched."""
    import agent_shapes

    runnable, inputs = getattr(agent_shapes, shape)()
    engine = MetricsEngine(judge_profiles(), judges={"hedging": hedging()})
    result = runnable.invoke(inputs, config={"callbacks": [CallbackHandler(provider, metrics=engine)]})
    assert engine.flush(20)
    assert "shipped yesterday" in str(result)
    chats = llm_spans(exporter)
    assert chats and all(span.end_time is not None for span in chats)
    judged = [s for s in chats if KEY in s.attributes]
    assert judged, [dict(s.attributes) for s in chats]
    for span in chats:  # a step that only called tools has no text to judge: no judge call spent on it
        assert (KEY in span.attributes) is ("tool_calls" not in span.attributes[sc.RESPONSE_FINISH_REASONS])
    assert all(s.attributes[KEY + ".label"] in ("confident", "hedged") for s in judged)
    assert not [s for s in chats if KEY + ".error" in s.attributes]
