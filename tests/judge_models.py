"""Rule judges that profile files name as ``model = "judge_models:<attr>"`` in the judge tests."""

from agenttrace.testing import RuleJudgeModel

HEDGES = r"\b(might|perhaps|possibly|maybe)\b"

#: confident unless the reply hedges
hedging_judge = RuleJudgeModel(rules=[(HEDGES, "hedged", "the reply hedges its claim")],
                               default=("confident", "plain claims"))


def slow_judge() -> RuleJudgeModel:
    """A zero-argument factory: a judge slower than its timeout in the tests."""
    return RuleJudgeModel(latency=2.0, default=("confident", "slow"))


failing_judge = RuleJudgeModel(fail="judge provider unavailable")
