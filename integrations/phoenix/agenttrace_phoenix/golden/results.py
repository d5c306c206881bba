"""The run results file of ``agenttrace golden run`` (read by ``agenttrace golden compare``).

One JSON file per run, ``<results-dir>/<suite>/<run>.json`` (results-dir default
``.agenttrace/golden``), schema ``agenttrace.golden.run/1``::

    {"schema": "agenttrace.golden.run/1", "suite": "email", "run": "baseline", "created": "<ISO>",
     "repeats": 3, "agent": "pkg.mod:factory", "model_overrides": {"alias": "version"},
     "phoenix": {"url": ..., "dataset_id": ..., "dataset_version_id": ..., "experiment_id": ..., "project": ...},
     "evaluators": {"trajectory_match": {"kind": "pass"}, "relevance": {"kind": "score", "direction": "maximize"}},
     "examples": [{"id": "email-007", "metadata": {...},
                   "repeats": [{"output": "...", "error": null, "latency_ms": 812.0, "total_tokens": 340,
                                "route_path": [...], "tool_calls": [{"name": ..., "args": {...}}],
                                "trace_id": "hex", "scores": {...}, "labels": {...}, "explanations": {...}}]}]}

An evaluator that could not run on a repeat is absent from that repeat's ``scores`` (never a fake 0).
Kind "pass": 1.0 pass / 0.0 fail; kind "score": continuous, ``direction`` says which way is better.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

SCHEMA = "agenttrace.golden.run/1"
DEFAULT_RESULTS_DIR = Path(".agenttrace") / "golden"


class ResultsError(ValueError):
    """A run results file that is missing or not a valid ``agenttrace.golden.run/1`` document."""


@dataclass
class EvaluatorInfo:
    kind: str                         # "pass" | "score"
    direction: Optional[str] = None   # "maximize" | "minimize" (kind "score")

    def to_json(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind}
        if self.direction is not None:
            out["direction"] = self.direction
        return out


@dataclass
class RepeatResult:
    output: Optional[str] = None
    error: Optional[str] = None
    latency_ms: Optional[float] = None
    total_tokens: Optional[int] = None
    route_path: list[str] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)
    trace_id: Optional[str] = None
    scores: dict[str, float] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    explanations: dict[str, str] = field(default_factory=dict)


@dataclass
class ExampleResult:
    id: str
    metadata: dict = field(default_factory=dict)
    repeats: list[RepeatResult] = field(default_factory=list)

    def passes_all(self, evaluators: dict[str, EvaluatorInfo]) -> Optional[bool]:
        """pass^k: every repeat passes every "pass" evaluator that ran on it (None if none ran)."""
        ran = False
        for rep in self.repeats:
            for name, info in evaluators.items():
                if info.kind == "pass" and name in rep.scores:
                    ran = True
                    if rep.scores[name] < 1.0:
                        return False
        return True if ran else None


@dataclass
class PhoenixInfo:
    url: Optional[str] = None
    dataset_id: Optional[str] = None
    dataset_version_id: Optional[str] = None
    experiment_id: Optional[str] = None
    project: Optional[str] = None


@dataclass
class RunResult:
    suite: str
    run: str
    created: str
    repeats: int
    agent: str
    model_overrides: dict[str, str] = field(default_factory=dict)
    phoenix: PhoenixInfo = field(default_factory=PhoenixInfo)
    evaluators: dict[str, EvaluatorInfo] = field(default_factory=dict)
    examples: list[ExampleResult] = field(default_factory=list)
    schema: str = SCHEMA

    def to_json(self) -> dict:
        return {"schema": self.schema, "suite": self.suite, "run": self.run, "created": self.created,
                "repeats": self.repeats, "agent": self.agent, "model_overrides": dict(self.model_overrides),
                "phoenix": asdict(self.phoenix),
                "evaluators": {k: v.to_json() for k, v in self.evaluators.items()},
                "examples": [{"id": e.id, "metadata": e.metadata, "repeats": [asdict(r) for r in e.repeats]}
                             for e in self.examples]}

    @classmethod
    def from_json(cls, doc: Any, source: str = "<run>") -> "RunResult":
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise ResultsError(f"{source}: not a {SCHEMA} results file")
        try:
            evaluators = {str(k): EvaluatorInfo(kind=v["kind"], direction=v.get("direction"))
                          for k, v in (doc.get("evaluators") or {}).items()}
            examples = [ExampleResult(id=str(e["id"]), metadata=dict(e.get("metadata") or {}),
                                      repeats=[_repeat(r) for r in e.get("repeats") or []])
                        for e in doc.get("examples") or []]
            return cls(suite=str(doc["suite"]), run=str(doc["run"]), created=str(doc["created"]),
                       repeats=int(doc["repeats"]), agent=str(doc.get("agent") or ""),
                       model_overrides=dict(doc.get("model_overrides") or {}),
                       phoenix=PhoenixInfo(**{k: v for k, v in (doc.get("phoenix") or {}).items()
                                              if k in PhoenixInfo.__dataclass_fields__}),
                       evaluators=evaluators, examples=examples)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ResultsError(f"{source}: invalid {SCHEMA} results file: {err!r}") from None


def _repeat(r: dict) -> RepeatResult:
    known = RepeatResult.__dataclass_fields__
    return RepeatResult(**{k: v for k, v in r.items() if k in known})


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """``name`` usable as one file name component (run names carry ISO times with ':')."""
    return _SAFE.sub("-", name).strip("-") or "run"


def run_path(suite: str, run: str, results_dir: Union[str, os.PathLike] = DEFAULT_RESULTS_DIR) -> Path:
    return Path(results_dir) / safe_name(suite) / f"{safe_name(run)}.json"


def save_run(result: RunResult, results_dir: Union[str, os.PathLike] = DEFAULT_RESULTS_DIR) -> Path:
    """Write ``result`` to ``<results_dir>/<suite>/<run>.json`` (atomically) and return the path."""
    path = run_path(result.suite, result.run, results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_run(path_or_name: Union[str, os.PathLike], suite: Optional[str] = None,
             results_dir: Union[str, os.PathLike] = DEFAULT_RESULTS_DIR) -> RunResult:
    """A run from a file path, or by run name under ``<results_dir>/<suite>/``.
    Raises :class:`ResultsError` (one line) when missing or invalid."""
    path = Path(path_or_name)
    if not path.is_file():
        if suite is None:
            raise ResultsError(f"no results file {str(path_or_name)!r} (give a path, or a run name and the suite)")
        path = run_path(suite, str(path_or_name), results_dir)
        if not path.is_file():
            raise ResultsError(f"no run {str(path_or_name)!r} of suite {suite!r} under {results_dir}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ResultsError(f"{path}: cannot read: {err}") from None
    return RunResult.from_json(doc, str(path))
