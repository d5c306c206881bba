"""Golden examples: the ``--from-file`` schema (JSONL or YAML), validation, and Phoenix dataset rows.

One example::

    {"id": "email-007",
     "input": {...the agent's input, JSON...},
     "reference_output": "text of the reference final answer",
     "reference_trajectory": {"tool_calls": [{"name": "lookup", "args": {"sku": "X1"}}],
                              "route_path": ["subject_line", "opening_copy"]},
     "metadata": {"agent": "...", "prompt_template": "...", "segment": "...", "model": "...",
                  "required_phrases": ["tonight"], "max_length": 400, "cta_required": true}}

In Phoenix: inputs = ``input``, outputs = ``{"reference_output", "reference_trajectory"}``,
metadata = ``metadata`` + ``id``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

REQUIRED = ("id", "input")
KNOWN = {"id", "input", "reference_output", "reference_trajectory", "metadata"}


class ExampleError(ValueError):
    """An example file or dataset row that does not follow the schema; the message names where."""


@dataclass
class GoldenExample:
    id: str
    input: Any
    reference_output: Optional[str] = None
    tool_calls: list[dict] = field(default_factory=list)   # [{"name": ..., "args": {...}}]
    route_path: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def dataset_row(self) -> tuple[dict, dict, dict]:
        """(inputs, outputs, metadata) of the Phoenix dataset example."""
        inputs = self.input if isinstance(self.input, dict) else {"input": self.input}
        outputs = {"reference_output": self.reference_output,
                   "reference_trajectory": {"tool_calls": self.tool_calls, "route_path": self.route_path}}
        return inputs, outputs, {**self.metadata, "id": self.id}


def parse(obj: Any, where: str) -> GoldenExample:
    """One example from its JSON/YAML object; :class:`ExampleError` naming ``where`` otherwise."""
    if not isinstance(obj, Mapping):
        raise ExampleError(f"{where}: an example must be an object, got {type(obj).__name__}")
    missing = [k for k in REQUIRED if obj.get(k) in (None, "")]
    if missing:
        raise ExampleError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(obj) - KNOWN)
    if unknown:
        raise ExampleError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KNOWN))})")
    ref = obj.get("reference_output")
    if ref is not None and not isinstance(ref, str):
        raise ExampleError(f"{where}: reference_output must be a string")
    traj = obj.get("reference_trajectory") or {}
    if not isinstance(traj, Mapping):
        raise ExampleError(f"{where}: reference_trajectory must be an object with tool_calls and route_path")
    calls = traj.get("tool_calls") or []
    if not isinstance(calls, list) or not all(isinstance(c, Mapping) and isinstance(c.get("name"), str)
                                              and isinstance(c.get("args", {}), Mapping) for c in calls):
        raise ExampleError(f"{where}: reference_trajectory.tool_calls must be a list of {{name, args}} objects")
    route = traj.get("route_path") or []
    if not isinstance(route, list) or not all(isinstance(r, str) for r in route):
        raise ExampleError(f"{where}: reference_trajectory.route_path must be a list of strings")
    meta = obj.get("metadata") or {}
    if not isinstance(meta, Mapping):
        raise ExampleError(f"{where}: metadata must be an object")
    if "max_length" in meta and not (isinstance(meta["max_length"], int) and meta["max_length"] > 0):
        raise ExampleError(f"{where}: metadata.max_length must be a positive integer")
    phrases = meta.get("required_phrases", [])
    if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
        raise ExampleError(f"{where}: metadata.required_phrases must be a list of strings")
    return GoldenExample(id=str(obj["id"]), input=obj["input"], reference_output=ref,
                         tool_calls=[{"name": c["name"], "args": dict(c.get("args") or {})} for c in calls],
                         route_path=list(route), metadata=dict(meta))


def load_file(path: str | Path) -> list[GoldenExample]:
    """Examples from a JSONL file (one object a line) or a YAML file (a list of objects)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ExampleError(f"{path}: cannot read: {err.strerror or err}") from None
    examples: list[GoldenExample] = []
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise ExampleError(f"{path}{line}: not valid YAML: {getattr(err, 'problem', None) or err}") from None
        if not isinstance(doc, list):
            raise ExampleError(f"{path}: a YAML example file must be a list of examples")
        for i, obj in enumerate(doc, 1):
            examples.append(parse(obj, f"{path}: example {i}"))
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as err:
                raise ExampleError(f"{path}:{n}: not valid JSON: {err.msg}") from None
            examples.append(parse(obj, f"{path}:{n}"))
    if not examples:
        raise ExampleError(f"{path}: no examples")
    check_unique(examples, str(path))
    return examples


def check_unique(examples: Sequence[GoldenExample], where: str) -> None:
    seen: set[str] = set()
    for e in examples:
        if e.id in seen:
            raise ExampleError(f"{where}: duplicate example id {e.id!r}")
        seen.add(e.id)


def from_dataset_example(example: Mapping[str, Any]) -> GoldenExample:
    """A Phoenix dataset example (``{"id", "input", "output", "metadata"}``) back as a GoldenExample."""
    meta = dict(example.get("metadata") or {})
    ident = str(meta.pop("id", None) or example.get("id"))
    out = example.get("output") or {}
    traj = out.get("reference_trajectory") or {}
    inputs = example.get("input") or {}
    value = inputs["input"] if set(inputs) == {"input"} else dict(inputs)
    return GoldenExample(id=ident, input=value, reference_output=out.get("reference_output"),
                         tool_calls=list(traj.get("tool_calls") or []), route_path=list(traj.get("route_path") or []),
                         metadata=meta)
