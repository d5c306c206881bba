"""Browser test: the demo's metric scores where Phoenix shows scores — a flagged LLM span's
Annotations panel, and Phoenix's span filter on an annotation label — read in headless Chromium
as a user would.

Screenshots go to the test's temporary directory; to re-take the ones in the docs::

    AGENTTRACE_SCREENSHOT_DIR=docs/images .venv/bin/python -m pytest tests/test_phoenix_ui_scores.py
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from test_phoenix_ui import browser  # noqa: F401 - the headless Chromium fixture

pytest.importorskip("agenttrace_langkit", reason="LangKit integration not installed (tests/run.sh installs it)")

pytestmark = [pytest.mark.phoenix, pytest.mark.browser]

FILTER = "annotations['refusal_score'].label == 'flagged'"  # the demo's refusal flag: the refusal detector


@pytest.fixture(scope="module")
def demo_project(phoenix_server, phoenix_store):
    """The demo's ad-copy agent after the alias update (it refuses often), scored and annotated."""
    from agenttrace_examples.marketing import run_demo

    project = f"ui-scores-{uuid.uuid4().hex[:8]}"
    summary = run_demo(["ad-copy"], counts={"ad-copy": 16}, switch_at=0.0, project=project,
                       endpoint=phoenix_server.otlp_http_endpoint, protocol="http/protobuf", progress=False)
    spans = phoenix_store.wait_for_spans(project, summary.spans, timeout=60)
    flagged = [s for s in spans if s["span_kind"] == "LLM" and s["attributes"].get("agenttrace.review.required")
               and "refusal_score" in s["attributes"].get("agenttrace.review.reason", "")]
    assert 0 < len(flagged) < sum(s["span_kind"] == "LLM" for s in spans), "the demo should flag some refusals, not all replies"
    return project, spans, flagged


def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("AGENTTRACE_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def annotation_rows(section) -> dict:
    """The Annotations panel's table: annotation name → its cells (name, kind, label, score, explanation, ...)."""
    from selenium.webdriver.common.by import By

    rows = {}
    for tr in section.find_elements(By.CSS_SELECTOR, "tbody tr"):
        cells = [td.text.strip() for td in tr.find_elements(By.CSS_SELECTOR, "td")]
        if cells and cells[0]:
            rows[cells[0]] = cells
    return rows


def test_flagged_llm_span_lists_its_scores_with_labels(phoenix_server, phoenix_store, browser, demo_project, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    project, spans, flagged = demo_project
    span = flagged[0]
    project_id = phoenix_store.client.projects.get(project_name=project)["id"]
    browser.set_window_size(1600, 1000)
    browser.get(f"{phoenix_server.url}/projects/{project_id}/traces/{span['context']['trace_id']}"
                f"?selectedSpanNodeId={span['id']}")
    toggle = WebDriverWait(browser, 60, poll_frequency=0.5).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "button.card__collapsible-button[aria-label='Annotations']"))
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    section = toggle.find_element(By.XPATH, "ancestor::section[1]")
    WebDriverWait(browser, 10).until(lambda d: section.find_elements(By.XPATH, ".//*[normalize-space(text())='Table']"))
    section.find_element(By.XPATH, ".//*[normalize-space(text())='Table']").click()
    rows = WebDriverWait(browser, 20, poll_frequency=0.5).until(
        lambda d: (r := annotation_rows(section)) and {"refusal_score", "refusal_similarity", "relevance"} <= set(r) and r)
    shot = shots(tmp_path) / "phoenix-span-annotations.png"
    browser.save_screenshot(str(shot))

    refusal, langkit, relevance, review = rows["refusal_score"], rows["refusal_similarity"], rows["relevance"], rows["review"]
    assert refusal[1] == "CODE" and refusal[2] == "flagged"
    assert float(refusal[3]) == pytest.approx(span["attributes"]["agenttrace.metric.refusal_score"], abs=1e-6)
    assert "> threshold 0.5" in refusal[4]  # the detector's calibrated threshold
    langkit_value = span["attributes"]["agenttrace.metric.refusal_similarity"]  # LangKit's score, labelled beside it
    assert langkit[1] == "CODE" and float(langkit[3]) == pytest.approx(langkit_value, abs=1e-6)
    assert langkit[2] == ("flagged" if langkit_value > 0.4 else "pass") and "threshold 0.4" in langkit[4]
    assert relevance[1] == "CODE" and float(relevance[3]) == pytest.approx(span["attributes"]["agenttrace.metric.relevance"], abs=1e-6)
    # the demo profile's relevance floor (0.15) labels every relevance score
    relevance_value = span["attributes"]["agenttrace.metric.relevance"]
    assert relevance[2] == ("flagged" if relevance_value < 0.15 else "pass")
    assert "floor 0.15" in relevance[4]
    assert review[2] == "flagged"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_span_filter_on_the_refusal_label_returns_exactly_the_flagged_spans(phoenix_server, phoenix_store, browser,  # noqa: F811
                                                                            demo_project, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    project, spans, flagged = demo_project
    project_id = phoenix_store.client.projects.get(project_name=project)["id"]
    browser.set_window_size(2000, 1000)  # wide enough for the annotations column
    browser.get(f"{phoenix_server.url}/projects/{project_id}/spans")
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "table tbody tr"))  # loaded

    def type_filter(driver) -> bool:  # as a user types it (again, if the page re-rendered the box meanwhile)
        box = driver.find_element(By.CSS_SELECTOR, ".cm-content[aria-label='Filter spans']")
        if box.text != FILTER:
            box.click()
            box.send_keys(Keys.CONTROL, "a")  # typed over Phoenix's root-spans condition: an empty box would be
            box.send_keys(FILTER)             # applied (and written back into it) while the filter is typed
            box.send_keys(Keys.ESCAPE)  # close the completion list
        return "spanFilterCondition" in driver.current_url and box.text == FILTER

    WebDriverWait(browser, 30, poll_frequency=2).until(type_filter)

    def shown(driver):  # the Phoenix span ids of the rows, once the table shows the filtered result
        if "spanFilterCondition" not in driver.current_url:
            return None
        ids = set()
        for link in driver.find_elements(By.CSS_SELECTOR, "table tbody tr a[href*='selectedSpanNodeId']"):
            ids.update(parse_qs(urlsplit(link.get_attribute("href")).query)["selectedSpanNodeId"])
        return ids if ids and len(ids) == len(driver.find_elements(By.CSS_SELECTOR, "table tbody tr")) else None

    expected = {s["id"] for s in flagged}
    try:
        WebDriverWait(browser, 30, poll_frequency=0.5).until(lambda d: shown(d) == expected)
    finally:
        shot = shots(tmp_path) / "phoenix-refusal-filter.png"
        browser.save_screenshot(str(shot))
    assert shown(browser) == expected
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
