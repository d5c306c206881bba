"""Golden regression suites: Phoenix datasets of representative runs (``agenttrace golden create``)
and experiments running an agent over them with evaluators (``agenttrace golden run``)."""
