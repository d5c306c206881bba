"""Re-take docs/images/phoenix-demo.png: a support-bot trace of `agenttrace demo` in the local Phoenix.

    bash examples/run.sh && .venv/bin/python docs/images/make_screenshot.py

Needs Debian's chromium + chromium-driver (see .ci/run) and selenium (the `test` extra).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1500,900")


def chromium(flags: tuple[str, ...]) -> webdriver.Chrome:
    """Debian's headless Chromium, driven by its chromedriver."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in flags:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def main(project: str = "agenttrace-demo", out: Path = Path(__file__).with_name("phoenix-demo.png")) -> None:
    from agenttrace_phoenix import PhoenixStore, find_running

    server = find_running()
    if server is None:
        sys.exit("no local Phoenix is running: start it with `agenttrace phoenix start` and run `agenttrace demo`")
    store = PhoenixStore(server.url)

    def interest(spans):  # the support bot's turn with the most tool calls, shortest first
        root = next(s for s in spans if s["parent_id"] is None)
        return root["name"] == "invoke_agent support-bot", sum(s["span_kind"] == "TOOL" for s in spans), -len(spans)

    trace_id, _ = max(store.traces(project).items(), key=lambda kv: interest(kv[1]))
    project_id = store.client.projects.get(project_name=project)["id"]
    driver = chromium(FLAGS)
    try:
        driver.get(f"{server.url}/projects/{project_id}/traces/{trace_id}")
        time.sleep(6)
        llm_nodes = [h for h in driver.find_elements(By.CSS_SELECTOR, ".span-node__heading") if h.text.startswith("chat ")]
        llm_nodes[-1].click()  # show the last model call's messages
        time.sleep(2)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()
    print(f"saved {out}")


if __name__ == "__main__":
    main()
