"""Browser test: headless Chromium (Debian's chromium + chromium-driver) opens a demo trace in the
Phoenix UI of the test session's server and reads the span tree as a user would see it."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

pytestmark = [pytest.mark.phoenix, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# Offline-safe flags: without the background-networking ones Chromium keeps dialling Google's hosts.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1600,1000")


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        message = "needs Debian's chromium and chromium-driver (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a missing browser is a broken setup, not a reason to skip
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_demo_trace_tree_shows_tool_and_llm_spans(phoenix_server, phoenix_store, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from agenttrace_examples.marketing import run_demo

    project = f"ui-{uuid.uuid4().hex[:8]}"
    summary = run_demo(["support"], counts={"support": 1}, switch_at=None, project=project,
                       endpoint=phoenix_server.otlp_http_endpoint, protocol="http/protobuf", profiles=None, progress=False)
    assert summary.spans > 0
    stored = phoenix_store.wait_for_spans(project, summary.spans, timeout=60)
    # a trace of the support bot that called tools
    trace_id, spans = next((t, s) for t, s in phoenix_store.traces(project).items() if any(x["span_kind"] == "TOOL" for x in s))
    expected_tools = {s["name"] for s in spans if s["span_kind"] == "TOOL"}
    expected_llms = {s["name"] for s in spans if s["span_kind"] == "LLM"}
    assert expected_tools and expected_llms and len(stored) >= len(spans)
    project_id = phoenix_store.client.projects.get(project_name=project)["id"]

    browser.get(f"{phoenix_server.url}/projects/{project_id}/traces/{trace_id}")

    def tree(driver):  # the headings of the trace tree's span nodes
        return [e.text.split("\n")[0] for e in driver.find_elements(By.CSS_SELECTOR, ".span-node__heading")]

    try:
        WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: expected_tools <= set(tree(d)))
    finally:
        shot = tmp_path / "phoenix-trace.png"
        browser.save_screenshot(str(shot))
    shown = tree(browser)
    assert expected_tools <= set(shown), shown
    assert expected_llms <= set(shown), shown
    assert shown[0] == next(s["name"] for s in spans if s["parent_id"] is None)  # the agent is the tree's root
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
