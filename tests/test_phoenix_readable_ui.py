"""Browser tests: what a user sees in Phoenix's UI — a session that reads as a chat, turn by turn,
and a trace tree where retries, fallbacks and routes say what they are.

Screenshots go to a temporary directory; to re-take the ones in the docs::

    AGENTTRACE_SCREENSHOT_DIR=docs/images .venv/bin/python -m pytest tests/test_phoenix_readable_ui.py
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from langchain_core.runnables import RunnableBranch, RunnableLambda
from langgraph.checkpoint.memory import InMemorySaver

import agent_shapes as shapes
import agenttrace
from agenttrace.testing import ScriptedChatModel
from test_phoenix_ui import browser  # noqa: F401 - the headless Chromium fixture
from test_retry_route import flaky

pytestmark = [pytest.mark.phoenix, pytest.mark.browser]

TURNS = ("Where is my order A1?", "And when does it arrive?")


def _send(phoenix_server, project: str, run) -> None:
    at = agenttrace.configure(project=project, endpoint=phoenix_server.otlp_http_endpoint, protocol="http/protobuf",
                              capture_content=True, set_global=False, handle_sigterm=False)
    run(at.callback_handler)
    assert at.flush(30)
    at.shutdown()


def _texts(driver, selector: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def _shot(driver, name: str) -> Path:
    images = Path(os.environ.get("AGENTTRACE_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="agenttrace-shots-"))
    images.mkdir(parents=True, exist_ok=True)
    path = images / name
    driver.save_screenshot(str(path))
    return path


def test_a_session_reads_as_a_chat_turn_by_turn(phoenix_server, phoenix_store, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    project, thread = f"chat-{uuid.uuid4().hex[:8]}", f"thread-{uuid.uuid4().hex[:6]}"

    def two_turns(handler):
        agent, _ = shapes.react_agent(name="support-bot")
        agent.checkpointer = InMemorySaver()
        for text in TURNS:
            agent.invoke(shapes.ask(text), {"callbacks": [handler], "configurable": {"thread_id": thread}})

    _send(phoenix_server, project, two_turns)
    phoenix_store.wait_for_spans(project, 2 * 11, timeout=60)
    project_id = phoenix_store.client.projects.get(project_name=project)["id"]
    browser.get(f"{phoenix_server.url}/projects/{project_id}/sessions")
    WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: thread in d.find_element(By.TAG_NAME, "body").text)
    next(e for e in browser.find_elements(By.XPATH, f"//*[text()='{thread}']")).click()
    body = lambda d: d.find_element(By.TAG_NAME, "body").text  # noqa: E731
    try:
        WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: TURNS[1] in body(d))
    finally:
        shot = _shot(browser, "phoenix-session.png")
    text = body(browser)
    # the first turn shows the user's message as text, then the reply; no state JSON
    first, second = text.index(TURNS[0]), text.index(TURNS[1])
    assert first < text.index("Order A1 shipped yesterday.") < second
    assert '"messages"' not in text and "HumanMessage" not in text
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_trace_tree_shows_retries_fallbacks_and_attempts(phoenix_server, phoenix_store, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    project = f"tree-{uuid.uuid4().hex[:8]}"

    def flaky_copy(handler):
        def timeout(messages):
            raise TimeoutError("provider timed out")

        model = ScriptedChatModel(replies=[timeout, "Fresh copy"], model="gpt-4o-mini").with_retry(
            stop_after_attempt=3, wait_exponential_jitter=False)
        fetch = flaky(1).with_retry(stop_after_attempt=3, wait_exponential_jitter=False)
        primary, _ = shapes.fallback_chain()
        router = RunnableBranch((lambda x: len(x) > 3, RunnableLambda(lambda x: x, name="capable")),
                                RunnableLambda(lambda x: x, name="cheap")).with_config(run_name="pick_model")

        def pipeline(x):
            brief = fetch.invoke(x)  # "copy for ..."
            router.invoke(brief)
            primary.invoke([("user", brief)])
            return model.invoke(brief).content

        RunnableLambda(pipeline, name="ad-copy").invoke("socks for VIPs", {"callbacks": [handler]})

    _send(phoenix_server, project, flaky_copy)
    expected = {"invoke_workflow ad-copy", "retry provider_call", "provider_call attempt 1", "provider_call attempt 2",
                "pick_model", "fallback chat gpt-4.1", "chat gpt-4.1", "chat gpt-4o-mini", "retry chat gpt-4o-mini",
                "chat gpt-4o-mini attempt 1", "chat gpt-4o-mini attempt 2"}
    stored = phoenix_store.wait_for_spans(project, 13, timeout=60)
    trace_id = stored[0]["context"]["trace_id"]
    project_id = phoenix_store.client.projects.get(project_name=project)["id"]
    browser.get(f"{phoenix_server.url}/projects/{project_id}/traces/{trace_id}")
    tree = lambda d: [t.split("\n")[0] for t in _texts(d, ".span-node__heading")]  # noqa: E731
    body = lambda d: d.find_element(By.TAG_NAME, "body").text  # noqa: E731
    try:
        WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: expected <= set(tree(d)))
        # the router's decision is its output: select it and read the Info tab
        next(e for e in browser.find_elements(By.CSS_SELECTOR, ".span-node__heading") if e.text.startswith("pick_model")).click()
        WebDriverWait(browser, 30, poll_frequency=0.5).until(lambda d: "→ capable" in body(d))
    finally:
        _shot(browser, "phoenix-retry-tree.png")
    shown = tree(browser)
    assert expected <= set(shown), shown
    assert shown.index("retry chat gpt-4o-mini") < len(shown) - 2  # its two attempts follow it
    assert shown[-2:] == ["chat gpt-4o-mini attempt 1", "chat gpt-4o-mini attempt 2"]
