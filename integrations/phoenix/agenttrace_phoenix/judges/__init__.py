"""LLM judges for agenttrace profiles (``judge:<name>`` metrics): arize-phoenix-evals'
``ClassificationEvaluator`` over a LangChain chat model.

The core finds :func:`create` through the entry point ``agenttrace.judges: phoenix``.
"""

from __future__ import annotations

from typing import Any, Optional

from opentelemetry import context as otel_context

from agenttrace.metrics.judges import JudgeResult, JudgeSpec

from .model import TokenCounter, chat_model, phoenix_llm
from .templates import template_of


class PhoenixJudge:
    """One judge of the profile file: ``evaluate`` renders its template, asks the model for a label
    (phoenix-evals' classification path) and maps it to the label's score."""

    def __init__(self, spec: JudgeSpec, model: Any = None):
        from phoenix.evals import ClassificationEvaluator

        self.name, self.spec, self.timeout = spec.name, spec, spec.timeout
        template, choices = template_of(spec.builtin) if spec.builtin else (spec.template, dict(spec.choices or {}))
        self.uses = {f for f in ("input", "output", "guidelines", "reference") if "{" + f + "}" in template}
        self.tokens = TokenCounter()
        self.evaluator = ClassificationEvaluator(
            name=f"judge.{spec.name}", llm=phoenix_llm(model if model is not None else chat_model(spec.model)),
            prompt_template=template, choices=choices, config={"callbacks": [self.tokens]})

    def evaluate(self, input: str, output: str, reference: Optional[str] = None) -> JudgeResult:
        values = {"input": input, "output": output, "guidelines": self.spec.guidelines or "", "reference": reference or ""}
        self.tokens.reset()
        # the judge's own evaluator spans are not the agent's: phoenix-evals traces into the global
        # provider, which would export the judged text; suppressed here
        token = otel_context.attach(otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            score = self.evaluator.evaluate({k: v for k, v in values.items() if k in self.uses})[0]
        except Exception as err:
            if self.tokens.error:  # the model's own error, not only phoenix-evals' "both paths failed"
                raise RuntimeError(f"{self.tokens.error} ({err})") from err
            raise
        finally:
            otel_context.detach(token)
        used = self.tokens.tokens
        if used is None:  # the model reported no usage: estimate (4 characters a token)
            used = (sum(len(values[k]) for k in self.uses) + len(score.explanation or "")) // 4 + 1
        return JudgeResult(self.name, score.score, score.label, score.explanation, tokens=int(used))


def create(spec: JudgeSpec) -> PhoenixJudge:
    """The ``agenttrace.judges`` entry point."""
    return PhoenixJudge(spec)
