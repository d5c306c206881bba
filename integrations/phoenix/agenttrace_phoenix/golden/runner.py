"""``agenttrace golden run``: the agent on every example of a suite k times, as a Phoenix experiment.

1. The dataset is loaded from Phoenix; the agent is built from its factory (:mod:`.agent`).
2. ``client.experiments.run_experiment(dataset, task, repetitions=k)`` runs the task — the agent,
   traced into the project ``golden-<suite>`` — on every example k times and records each run.
3. The evaluators run here, over all k repeats of an example at once (route consistency needs
   them all), then are recorded on the experiment's runs with ``client.experiments.evaluate_experiment``
   (one evaluator that returns a named result per evaluation), so they show in Phoenix's
   experiment view.
4. The run results file is written (:mod:`.results`).
"""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Sequence

from .agent import TracedAgent, build_agent, prompt_text
from .dataset import load_dataset
from .evaluators import Evaluation, kind_of
from .evaluators.consistency import pass_k, route_consistency
from .evaluators.formatting import format_check
from .evaluators.judges import load_judges, run_judges
from .evaluators.text import TextScores, load_scorer
from .evaluators.trajectory import TrajectoryMatch
from .examples import GoldenExample
from .results import ExampleResult, PhoenixInfo, RepeatResult, RunResult


@dataclass
class RunOptions:
    suite: str
    agent: str
    repeats: int = 1
    model_overrides: dict[str, str] = field(default_factory=dict)
    profiles: Optional[str] = None
    run_name: Optional[str] = None
    project: Optional[str] = None
    trajectory_mode: str = "strict"
    tool_args: str = "exact"


@dataclass
class RunOutcome:
    result: RunResult
    experiment_url: str
    notes: list[str]


def evaluate_repeats(example: GoldenExample, outputs: Sequence[Mapping[str, Any]], trajectory: TrajectoryMatch,
                     text: Optional[TextScores], judges: Mapping[str, Any]) -> list[dict[str, Evaluation]]:
    """The evaluations of each of the k repeats of ``example`` (dicts name → Evaluation)."""
    prompt = prompt_text(example.input)
    consistency = route_consistency([o.get("route_path") or [] for o in outputs])
    all_evals = []
    for out in outputs:
        evals: dict[str, Evaluation] = {}
        reply = out.get("output")
        if out.get("error") is None and reply is not None:
            match = trajectory(out.get("tool_calls") or [], example.tool_calls)
            if match is not None:
                evals["trajectory_match"] = match
            if text is not None:
                try:
                    evals.update(text(prompt, reply, example.reference_output))
                except Exception:  # noqa: BLE001 - a scorer failure leaves these scores absent, not 0
                    pass
            evals.update(run_judges(dict(judges), prompt, reply, example.reference_output))
            fmt = format_check(reply, example.metadata)
            if fmt is not None:
                evals["format"] = fmt
        else:
            evals["trajectory_match"] = Evaluation(0.0, "fail", f"the run failed: {out.get('error') or 'no output'}")
        if consistency is not None:
            evals["route_consistency"] = consistency
        if out.get("latency_ms") is not None:
            evals["latency_ms"] = Evaluation(round(float(out["latency_ms"]), 3))
        if out.get("total_tokens") is not None:
            evals["total_tokens"] = Evaluation(float(out["total_tokens"]))
        all_evals.append(evals)
    return all_evals


def _quiet():
    """phoenix-client prints progress and emoji lines to stdout: keep ours clean."""
    return contextlib.redirect_stdout(io.StringIO())


def run_suite(client: Any, phoenix_url: str, options: RunOptions) -> RunOutcome:
    trajectory = TrajectoryMatch(options.trajectory_mode, options.tool_args)  # bad modes fail before any work
    judges = load_judges(options.profiles)
    dataset, examples = load_dataset(client, options.suite)
    by_dataset_id = {e["id"]: ex for e, ex in zip(dataset.examples, examples)}
    agent = build_agent(options.agent, options.model_overrides)
    scorer, note = load_scorer()
    notes = [note] if note else []
    text = TextScores(scorer) if scorer is not None else None
    project = options.project or f"golden-{options.suite}"
    created = datetime.now(timezone.utc).replace(microsecond=0)
    run_name = options.run_name or f"{options.suite}-{created.strftime('%Y-%m-%dT%H-%M-%S')}"
    traced = TracedAgent(agent, project=project, endpoint=f"{phoenix_url.rstrip('/')}/v1/traces",
                         metadata={"golden_suite": options.suite, "golden_run": run_name})

    def task(input: Any, metadata: Mapping[str, Any]) -> dict:  # noqa: A002 - phoenix binds by name
        ex = next((e for e in examples if e.id == metadata.get("id")), None)
        value = ex.input if ex is not None else input
        return traced.run(value, {"golden_example": str(metadata.get("id"))})

    try:
        with _quiet():
            ran = client.experiments.run_experiment(
                dataset=dataset, task=task, repetitions=options.repeats, experiment_name=run_name,
                experiment_description=f"agenttrace golden run of {options.agent}",
                experiment_metadata={"agent": options.agent, "model_overrides": options.model_overrides,
                                     "project": project, "suite": options.suite},
                print_summary=False, retries=0, timeout=600)
    finally:
        if not traced.close():
            notes.append("some spans of the runs may not have reached Phoenix (flush timed out)")

    runs_by_example: dict[str, list[dict]] = defaultdict(list)
    for run in ran["task_runs"]:
        runs_by_example[run["dataset_example_id"]].append(run)
    scored: dict[str, dict[str, Evaluation]] = {}
    results = RunResult(suite=options.suite, run=run_name, created=created.isoformat(), repeats=options.repeats,
                        agent=options.agent, model_overrides=dict(options.model_overrides),
                        phoenix=PhoenixInfo(url=phoenix_url, dataset_id=dataset.id, dataset_version_id=dataset.version_id,
                                            experiment_id=ran["experiment_id"], project=project))
    names: set[str] = set()
    for dataset_id, example in by_dataset_id.items():
        runs = sorted(runs_by_example.get(dataset_id, []), key=lambda r: r.get("repetition_number") or 1)
        outputs = [r.get("output") if isinstance(r.get("output"), dict) else {"error": r.get("error") or "no output"}
                   for r in runs]
        evals = evaluate_repeats(example, outputs, trajectory, text, judges)
        repeats = []
        for out, ev in zip(outputs, evals):
            if out.get("run_key"):
                scored[out["run_key"]] = ev
            names.update(ev)
            repeats.append(RepeatResult(
                output=out.get("output"), error=out.get("error"), latency_ms=out.get("latency_ms"),
                total_tokens=out.get("total_tokens"), route_path=list(out.get("route_path") or []),
                tool_calls=list(out.get("tool_calls") or []), trace_id=out.get("trace_id"),
                scores={k: e.score for k, e in ev.items()},
                labels={k: e.label for k, e in ev.items() if e.label is not None},
                explanations={k: e.explanation for k, e in ev.items() if e.explanation is not None}))
        results.examples.append(ExampleResult(id=example.id, metadata=dict(example.metadata), repeats=repeats))
    results.evaluators = {n: kind_of(n) for n in sorted(names)}

    def golden(output: Any) -> list[dict]:
        ev = scored.get(output.get("run_key")) if isinstance(output, dict) else None
        return [{"name": n, "score": e.score, "label": e.label, "explanation": e.explanation}
                for n, e in sorted((ev or {}).items())]

    with _quiet():
        client.experiments.evaluate_experiment(experiment=ran, evaluators={"golden": golden}, print_summary=False, retries=0)
    url = client.experiments.get_experiment_url(dataset_id=dataset.id, experiment_id=ran["experiment_id"])
    return RunOutcome(results, url, notes)


def summary_lines(result: RunResult) -> list[str]:
    """One line (≤ 80 columns) per evaluator, then pass^k."""
    lines = []
    for name, info in result.evaluators.items():
        values = [r.scores[name] for e in result.examples for r in e.repeats if name in r.scores]
        if not values:
            continue
        mean = sum(values) / len(values)
        if info.kind == "pass":
            text = f"pass rate {mean:6.1%}  ({sum(v >= 1.0 for v in values)}/{len(values)} runs)"
        else:
            text = f"mean {mean:10.3f}  min {min(values):.3f}  max {max(values):.3f}  (n={len(values)})"
        lines.append(f"{name[:24]:<24} {text}"[:80])
    pass_names = [n for n, i in result.evaluators.items() if i.kind == "pass"]
    verdicts = [pass_k([r.scores for r in e.repeats], pass_names) for e in result.examples]
    judged = [v for v in verdicts if v is not None]
    if judged:
        lines.append(f"{'pass^' + str(result.repeats):<24} {sum(judged)}/{len(judged)} examples pass every repeat")
    return lines
