"""Browser test: the demo's alias update, found by `agenttrace drift` and written to Phoenix, read in
headless Chromium as a user would: Phoenix's span filter `annotations['refusal_rate_alert']`
lists exactly the runs of the current window whose reply was flagged as a refusal.

To re-take the screenshot in the docs::

    AGENTTRACE_SCREENSHOT_DIR=docs/images .venv/bin/python -m pytest tests/test_phoenix_ui_drift.py
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from test_phoenix_ui import browser  # noqa: F401 - the headless Chromium fixture

pytest.importorskip("agenttrace_langkit", reason="LangKit integration not installed (tests/run.sh installs it)")

pytestmark = [pytest.mark.phoenix, pytest.mark.browser]

CONDITION = "annotations['refusal_rate_alert'].label == 'alert'"


def test_refusal_rate_alert_filter_lists_only_the_runs_with_a_flagged_reply(phoenix_server, phoenix_store, browser,  # noqa: F811
                                                                            tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from agenttrace.cli import main
    from agenttrace_examples.marketing import run_demo
    from agenttrace_phoenix.trajectories import iter_trajectories
    from agenttrace_whylogs.report_links import phoenix_project

    project = f"ui-drift-{uuid.uuid4().hex[:8]}"
    store = tmp_path / "profiles"
    # ten simulated days ending now, the alias update three days before the end
    summary = run_demo(["ad-copy"], counts={"ad-copy": 120}, days=10, switch_at=0.7, project=project,
                       endpoint=phoenix_server.otlp_http_endpoint, protocol="http/protobuf", profile_store=store,
                       progress=False)
    assert summary.refusals.get("after", 0) > 0
    phoenix_store.wait_for_spans(project, summary.spans, timeout=120)

    result = CliRunner().invoke(main, ["drift", "--store", str(store), "--phoenix-project", project,
                                       "--phoenix-url", phoenix_server.url, "--baseline-days", "7",
                                       "--current-days", "3", "--min-rows", "20", "--no-reports", "--no-progress",
                                       "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    rules = {f["rule"] for incident in report["incidents"] for f in incident["findings"]}
    assert "refusal_rate" in rules, report["incidents"]

    start, end = (datetime.fromisoformat(report["meta"]["current"][k].replace("Z", "+00:00")) for k in ("start", "end"))
    runs = list(iter_trajectories(phoenix_store, project))
    expected = {t.span_id for t in runs if t.features["refusal_flagged"] == 1.0
                and start.timestamp() <= t.end_time < end.timestamp()}
    assert 0 < len(expected) < sum(start.timestamp() <= t.end_time < end.timestamp() for t in runs)

    link = phoenix_project(phoenix_server.url, project).runs_link(CONDITION, (start - timedelta(hours=1),
                                                                              end + timedelta(hours=1)))
    browser.set_window_size(2000, 1000)
    browser.get(link)
    ids = {s["context"]["span_id"]: s["id"] for s in phoenix_store.spans(project) if s["parent_id"] is None}

    def shown(driver):  # the root spans the filtered table lists, once every row has rendered
        rows = driver.find_elements(By.CSS_SELECTOR, "table tbody tr")
        found = set()
        for link_el in driver.find_elements(By.CSS_SELECTOR, "table tbody tr a[href*='selectedSpanNodeId']"):
            found.update(parse_qs(urlsplit(link_el.get_attribute("href")).query)["selectedSpanNodeId"])
        return found if found and len(found) == len(rows) else None

    wanted = {ids[span_id] for span_id in expected}
    try:
        WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: shown(d) == wanted)
    finally:
        out = Path(os.environ.get("AGENTTRACE_SCREENSHOT_DIR") or tmp_path)
        out.mkdir(parents=True, exist_ok=True)
        shot = out / "phoenix-refusal-rate-alert.png"
        browser.save_screenshot(str(shot))
    assert shown(browser) == wanted
    assert browser.find_element(By.CSS_SELECTOR, ".cm-content").text == CONDITION  # the filter box shows it
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert end <= datetime.now(timezone.utc) + timedelta(hours=1)
