"""The HTML drift report on a real whylogs profile store (tests/drift_traffic.py), drawn with real
matplotlib: it leads with the incidents, marks the thresholds it was judged against (from the
drift config and the metric profile actually used), masks heatmap cells with too few runs and
says so, lists the features found stable, and links each incident to its runs in Phoenix."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

pytest.importorskip("whylogs")

from agenttrace_whylogs import DriftConfig, ProfileStore, detect  # noqa: E402
from agenttrace_whylogs.incidents import Incident  # noqa: E402
from agenttrace_whylogs.report_html import to_html  # noqa: E402
from drift_traffic import generate, utc  # noqa: E402
from phoenix_fixtures import free_port  # noqa: E402
from test_phoenix_ui import browser  # noqa: E402,F401 - the headless Chromium fixture

SPLIT, END = utc(2026, 10, 31), utc(2026, 11, 7)
DAY = timedelta(days=1)
START = SPLIT - 14 * DAY
# refusal_abs not the default 0.005: the report must draw the config it is given
CONFIG = DriftConfig(baseline=14 * DAY, refusal_abs=0.01)
SWITCH = utc(2026, 11, 3, 9)             # the gpt-4o alias is answered by a new version from here on
RARE = "o1-preview"                      # a requested model with a single run on a few days


def rare_runs() -> list:
    """One run per day on three days, requested as RARE; the first refused (1 of 1: a 100% cell)."""
    rows = generate(3, SPLIT + DAY, SPLIT + 4 * DAY, seed=9, sort=True)
    out = []
    for i, t in enumerate(rows):
        features = dict(t.features, request_model=RARE, refusal_flagged=1.0 if i == 0 else 0.0,
                        model_version=f"{RARE} → {RARE}-2026 (fp_r)", response_model=f"{RARE}-2026")
        out.append(replace(t, end_time=(SPLIT + (i + 1) * DAY + timedelta(hours=6)).timestamp(),
                           segments=dict(t.segments, request_model=RARE), features=features))
    return out


@pytest.fixture(scope="module")
def drifted(tmp_path_factory):
    """gpt-4o requests: refusals 0.3% → 6% and a new model version behind the alias in the current week."""
    root = tmp_path_factory.mktemp("report") / "profiles"
    with ProfileStore(root, window=DAY, segment_keys=("agent", "request_model")) as store:
        store.write(generate(4000, START, SPLIT, seed=1))
        store.write(generate(2000, SPLIT, END, seed=2, refusal_rate=0.06, where={"request_model": "gpt-4o"},
                             new_model_at=SWITCH))
        store.write(rare_runs())
    store = ProfileStore(root)
    result = detect(store, end=END, config=CONFIG)
    return store, result


def incidents_of(result) -> list[Incident]:
    """Incidents as the rules will group them: the alias update with the refusal rise it caused,
    then every other finding on its own."""
    model = next(f for f in result.findings if f.rule == "model_version_change" and f.severity == "alert")
    refusal = [f for f in result.findings if f.rule == "refusal_rate"]
    assert refusal, [f.message for f in result.findings]
    caused = [model, *refusal]
    change = f"{model.current['request_model']} → {model.current['response_model']}"
    title = (f"{change} from {model.first_seen:%m-%d %H:%M}: refusals {refusal[0].baseline['rate']:.1%} → "
             f"{refusal[0].current['rate']:.1%}")
    out = [Incident("inc-alias", "alert", title, f"{change}", "check the provider's model updates",
                    [f.segment for f in refusal], caused, model.first_seen, ["model_version_change", "refusal_rate_alert"])]
    for i, f in enumerate(f for f in result.findings if f not in caused):
        out.append(Incident(f"inc-{i}", f.severity, f.message, None, f.action, [f.segment], [f], None, [f.annotation]))
    return out


def with_incidents(result):
    result.incidents = incidents_of(result)
    return result


def pngs(page: str) -> dict[str, str]:
    """alt text → the PNG's Description text chunk, for every embedded plot."""
    from PIL import Image

    out = {}
    for data, alt in re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)">', page):
        out[alt] = Image.open(io.BytesIO(base64.b64decode(data))).info.get("Description", "")
    return out


def captions(page: str) -> list[str]:
    return re.findall(r"<figcaption>(.*?)</figcaption>", page, flags=re.S)


@pytest.fixture(scope="module")
def page(drifted, tmp_path_factory) -> str:
    store, result = drifted
    profiles = tmp_path_factory.mktemp("profiles") / "profiles.toml"
    profiles.write_text('[profiles.replies]\nmetrics = ["refusal_similarity"]\n'
                        "thresholds = { refusal_similarity = 0.45 }\n"
                        '[[rules]]\nmatch = { operation = "chat" }\nprofile = "replies"\n')
    path = to_html(with_incidents(result), store, tmp_path_factory.mktemp("html") / "drift.html", config=CONFIG,
                   profiles=profiles)
    return path.read_text()


def test_the_report_leads_with_one_line_per_incident(drifted, page):
    _, result = drifted
    body = page.split("<body>", 1)[1]
    first_section = re.search(r"<h2[^>]*>(.*?)</h2>", body).group(1)
    assert first_section == "Incidents"
    items = re.findall(r'<li id="incident-([^"]+)">(.*?)</li>', body, flags=re.S)
    assert [i for i, _ in items] == [inc.id for inc in result.incidents]
    alias = items[0][1]
    assert re.search(r"gpt-4o → gpt-4o-2024-11-20 from 11-03 09:\d\d: refusals 0\.\d% → \d\.\d%", alias), alias
    assert "check the provider&#x27;s model updates" in alias and "\n" not in alias
    # the incidents come before every plot and before the table of findings
    assert body.index("Incidents") < body.index("<img") < body.index('id="findings"')


def test_without_incidents_the_top_findings_lead(drifted, tmp_path):
    store, result = drifted
    plain = replace(result)  # a DriftResult as detect() makes it before incidents exist
    plain.__dict__.pop("incidents", None)
    page = to_html(plain, store, tmp_path / "r.html", config=CONFIG).read_text()
    assert re.search(r"<h2[^>]*>(.*?)</h2>", page.split("<body>", 1)[1]).group(1) == "Top findings"


def test_thresholds_of_the_config_and_the_profile_are_drawn(page):
    meta = pngs(page)
    # the refusal rate per day and per segment, against the config's refusal_abs (1%, not the default 0.5%)
    assert "alert threshold 1.0%" in meta["refusal rate per day"]
    assert "alert threshold 1.0%" in meta["refusal_flagged"]
    # the daily scores against the metric profile's refusal-similarity threshold (0.45, not a built-in 0.4)
    assert "refusal_similarity threshold 0.45" in meta["evaluation scores per day"]
    text = " ".join(captions(page))
    assert "the alert threshold 1.0% (the drift config&#x27;s refusal_abs)" in text
    assert "refusal_similarity threshold 0.45 (metric profile)" in text
    assert "0.5%" not in text and "threshold 0.4 " not in text


def test_the_model_change_is_marked_on_the_time_plots(page):
    text = " ".join(captions(page))
    assert "gpt-4o → gpt-4o-2024-11-20 first answered 2026-11-03 09:" in text
    heatmap = next(c for c in captions(page) if c.startswith("Refusal rate per"))
    assert "gpt-4o → gpt-4o-2024-11-20" in heatmap


def test_heatmap_cells_show_n_and_small_cells_are_masked(page):
    heatmap = next(c for c in captions(page) if c.startswith("Refusal rate per request_model"))
    assert "The number in each cell is its runs." in heatmap
    # the RARE row has 3 cells of 1 run each (one of them 1 refused of 1): masked, and the caption says so
    assert "3 cells with fewer than 5 runs are masked (grey)" in heatmap
    assert "cells with fewer than 5 runs masked" in pngs(page)["refusal rate heatmap"]


def test_the_features_tested_and_found_stable_are_listed(drifted, page):
    _, result = drifted
    section = page.split('<h2 id="stable">', 1)[1].split("</ul>", 1)[0]
    stable = re.findall(r"<li><code>([^<]+)</code>", section)
    flagged = {f.feature for f in result.findings}
    assert {"latency_ms", "tool_calls", "llm_calls", "error", "tool_sequence", "route_path"} <= set(stable)
    assert not flagged & set(stable)
    assert "response_model" not in stable  # covered by the model version finding
    assert section.startswith(f"Tested and stable ({len(stable)} features)")


def test_without_phoenix_the_incidents_have_no_link(page):
    assert "phoenix" not in page.split("<h2", 2)[1].lower().replace("phoenix annotation", "")


def test_phoenix_unreachable_links_the_project_and_shows_the_filter(drifted, tmp_path):
    store, result = drifted
    url = f"http://127.0.0.1:{free_port()}"
    page = to_html(with_incidents(result), store, tmp_path / "r.html", config=CONFIG, phoenix_url=url,
                   phoenix_project="support-bot").read_text()
    line = re.search(r'<li id="incident-inc-alias">(.*?)</li>', page, flags=re.S).group(1)
    assert f'href="{url}/redirects/projects/support-bot"' in line
    labels = dict.fromkeys(f.severity for f in result.incidents[0].findings if f.rule == "refusal_rate")
    condition = " or ".join(["annotations['model_version_change'].label == 'alert'",
                             *(f"annotations['refusal_rate_alert'].label == '{s}'" for s in labels)])
    assert f"<code>{condition}</code>".replace("'", "&#x27;") in line


@pytest.mark.phoenix
def test_phoenix_links_filter_the_traces_of_the_project(drifted, phoenix_server, phoenix_store, tmp_path):
    store, result = drifted
    project = seed_project(phoenix_server, phoenix_store, {"alert": 1})
    project_id = phoenix_store.client.projects.get(project_name=project)["id"]
    page = to_html(with_incidents(result), store, tmp_path / "r.html", config=CONFIG, phoenix_url=phoenix_server.url,
                   phoenix_project=project).read_text()
    hrefs = re.findall(r'<li id="incident-[^"]+">.*?<a class=phoenix href="([^"]+)"', page, flags=re.S)
    assert len(hrefs) == len(result.incidents)
    # the id is base64 ("UHJvamVjdDoxNw==" once the server holds 17 projects): percent-encoded in the path
    assert hrefs[0].startswith(f"{phoenix_server.url}/projects/{quote(project_id, safe='')}/spans?spanFilterCondition=annotations%5B")
    assert "timeRangeStart=2026-10-31T00%3A00%3A00.000Z&amp;timeRangeEnd=2026-11-07T00%3A00%3A00.000Z" in hrefs[0]


# --- the link in a browser --------------------------------------------------------------------


def seed_project(phoenix_server, phoenix_store, labels: dict[str, int], plain: int = 2) -> str:
    """A fresh project with root spans named ``<label>-<i>`` annotated ``refusal_rate_alert`` =
    label, and ``plain`` spans without annotation; returns its name."""
    import uuid

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    project = f"report-{uuid.uuid4().hex[:8]}"
    provider = TracerProvider(resource=Resource.create({"openinference.project.name": project}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=phoenix_server.otlp_http_endpoint)))
    tracer = provider.get_tracer("test")
    names = [f"{label}-{i}" for label, n in labels.items() for i in range(n)] + [f"plain-{i}" for i in range(plain)]
    ids = {}
    for name in names:
        with tracer.start_as_current_span(name, attributes={"openinference.span.kind": "CHAIN"}) as span:
            ids[name] = f"{span.get_span_context().span_id:016x}"
    provider.shutdown()
    phoenix_store.wait_for_spans(project, len(names), timeout=60)
    phoenix_store.annotate_spans([{"span_id": ids[n], "name": "refusal_rate_alert", "label": n.split("-")[0], "score": 0.7}
                                  for n in names if not n.startswith("plain")])
    return project


@pytest.mark.phoenix
@pytest.mark.browser
def test_an_incident_link_opens_phoenix_filtered_to_its_runs(phoenix_server, phoenix_store, browser, tmp_path):
    from datetime import datetime, timezone

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from agenttrace_whylogs.report_links import incident_condition, phoenix_project

    project = seed_project(phoenix_server, phoenix_store, {"alert": 2, "warning": 1, "info": 1})
    # an incident whose refusal findings are an alert in one segment and a warning in another
    findings = [type("F", (), {"annotation": "refusal_rate_alert", "severity": s})() for s in ("alert", "warning")]
    incident = Incident("i", "alert", "refusals up", None, "check", [("*", "*")], findings, None, ["refusal_rate_alert"])
    condition = incident_condition(incident)
    assert condition == ("annotations['refusal_rate_alert'].label == 'alert' or "
                         "annotations['refusal_rate_alert'].label == 'warning'")
    now = datetime.now(timezone.utc)
    link = phoenix_project(phoenix_server.url, project).runs_link(condition, (now - timedelta(days=30), now + timedelta(hours=1)))
    browser.get(link)

    def rows(driver) -> set[str]:
        return {cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "tbody tr td")
                if re.fullmatch(r"(alert|warning|info|plain)-\d", cell.text)}

    try:
        WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: rows(d))
    finally:
        browser.save_screenshot(str(tmp_path / "phoenix-filtered.png"))
    assert rows(browser) == {"alert-0", "alert-1", "warning-0"}  # not info-0, not the runs without annotation
    assert browser.find_element(By.CSS_SELECTOR, ".cm-content").text == condition  # the filter box shows it
