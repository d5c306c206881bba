"""Re-take docs/images/drift-report.png: the top of an HTML drift report in headless Chromium.

    bash examples/run.sh && .venv/bin/python docs/images/make_report_screenshot.py

Takes the newest report in .agenttrace/reports (or the one given). Needs Debian's chromium +
chromium-driver (see .ci/run) and selenium (the `test` extra).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from make_screenshot import FLAGS, chromium


def main(report: Path | None = None, out: Path = Path(__file__).with_name("drift-report.png"),
         width: int = 1300, height: int = 2000) -> None:
    if report is None:
        reports = sorted(Path(".agenttrace/reports").glob("drift-*.html"), key=lambda p: p.stat().st_mtime)
        if not reports:
            sys.exit("no report in .agenttrace/reports: run `agenttrace drift` first (bash examples/run.sh)")
        report = reports[-1]
    flags = tuple(f for f in FLAGS if not f.startswith("--window-size"))
    driver = chromium((*flags, "--hide-scrollbars", f"--window-size={width},{height}"))
    try:
        driver.get(report.resolve().as_uri())
        time.sleep(1)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()
    print(f"saved {out} ({report})")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
