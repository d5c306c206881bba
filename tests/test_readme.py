"""The README's "Add it to your agent" snippet runs as copied, given the user's own graph builder."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

from conftest import run_python
from otlp_receivers import HttpReceiver

README = Path(__file__).resolve().parents[1] / "README.md"

BUILDER = textwrap.dedent("""
    from langgraph.graph import START, MessagesState, StateGraph
    from langchain_core.messages import AIMessage
    from agenttrace.testing import ScriptedChatModel

    model = ScriptedChatModel(replies=[AIMessage("Hello B: your spring offer is here.")])
    builder = StateGraph(MessagesState)
    builder.add_node("write", lambda state: {"messages": [model.invoke(state["messages"])]})
    builder.add_edge(START, "write")
""")


def _snippet() -> str:
    section = README.read_text().split("## Add it to your agent", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_snippet_runs_as_copied_and_names_the_run():
    receiver = HttpReceiver()
    try:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}"}
        done = run_python(BUILDER + _snippet() + "\nprint(result['messages'][-1].content)\nat.shutdown()\n", env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "Hello B: your spring offer is here."
        roots = [n for n in receiver.names if n.endswith(" email-personalizer")]  # invoke_workflow: one node, no tools
        assert roots == ["invoke_workflow email-personalizer"], receiver.names
        assert "Traceback" not in done.stderr
    finally:
        receiver.close()
