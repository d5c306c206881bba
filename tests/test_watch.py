"""``agenttrace watch``: passes on a real profile store, notifications to a real local webhook
receiver, the alert history, bad input — in process (click's runner); the kill -9 / SIGTERM
behaviour is in test_watch_process.py."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from agenttrace.cli import main
from agenttrace_whylogs import ProfileStore
from drift_traffic import DAY, END, SEGMENT_KEYS, START, alias_update, generate
from alert_receivers import HookReceiver


@pytest.fixture(scope="module")
def updated(tmp_path_factory):
    """30 days of baseline, then the gpt-4o alias answered by a new version refusing 30%."""
    root = tmp_path_factory.mktemp("alias") / "profiles"
    alias_update(root)
    return root


@pytest.fixture(scope="module")
def stationary(tmp_path_factory):
    root = tmp_path_factory.mktemp("stationary") / "profiles"
    with ProfileStore(root, window=DAY, segment_keys=SEGMENT_KEYS) as store:
        store.write(generate(4000, START, END, seed=7))
    return root


def opened_of(receiver) -> list:
    return [b for b in receiver.bodies() if b["event"] == "opened"]


def watch(*args: str):
    return CliRunner().invoke(main, ["watch", *args], catch_exceptions=False)


def test_an_alias_update_notifies_once_and_a_second_pass_sends_nothing_new(updated, tmp_path):
    alerts = tmp_path / "alerts.sqlite"
    with HookReceiver() as receiver:
        first = watch("--once", "--store", str(updated), "--alert-store", str(alerts), "--webhook", receiver.url)
        assert first.exit_code == 0, first.output
        opened = opened_of(receiver)
        ids = [m["incident"]["id"] for m in opened]
        assert ids and len(ids) == len(set(ids)), ids  # one message per incident
        cause = next(m["incident"] for m in opened if m["incident"]["cause"])
        assert "gpt-4o-2024-11-20" in cause["title"] and "refusals" in cause["title"]
        assert cause["evidence"] and "\n" not in cause["evidence"]
        assert cause["key"].startswith("model_version_change|")
        assert cause["severity"] == "alert"
        lines = first.stdout.splitlines()
        assert any(line.lstrip().startswith("opened") and cause["id"] in line for line in lines), first.stdout
        assert all(len(line) <= 80 for line in lines), lines
        assert f"{len(ids)} sent, 0 pending" in lines[-1]

        second = watch("--once", "--store", str(updated), "--alert-store", str(alerts), "--webhook", receiver.url)
        assert second.exit_code == 0, second.output
        assert len(receiver.bodies()) == len(ids)  # nothing new: same incidents, same ids
        assert "0 events, 0 sent, 0 pending" in second.stdout

    history = watch("--history", "--alert-store", str(alerts))
    assert history.exit_code == 0, history.output
    assert cause["id"] in history.stdout and "opened" in history.stdout
    assert len([line for line in history.stdout.splitlines() if " opened " in line]) == len(ids)


def test_stationary_traffic_sends_nothing(stationary, tmp_path):
    with HookReceiver() as receiver:
        result = watch("--once", "--store", str(stationary), "--alert-store", str(tmp_path / "a.sqlite"),
                       "--webhook", receiver.url)
        assert result.exit_code == 0, result.output
        assert receiver.bodies() == [] and receiver.attempts == 0
    assert "0 incidents, 0 events" in result.stdout


def test_the_config_file_watch_section_sets_options_and_the_command_line_wins(updated, tmp_path):
    with HookReceiver() as receiver, HookReceiver() as other:
        config = tmp_path / "agenttrace.toml"
        config.write_text(f'[watch]\nstore = "{updated}"\nwebhook = ["{other.url}"]\n'
                          f'alert-store = "{tmp_path / "alerts.sqlite"}"\nresolve-after = "2h"\n')
        result = watch("--once", "--config", str(config), "--webhook", receiver.url)
        assert result.exit_code == 0, result.output
        assert opened_of(receiver) and other.bodies() == []
        config.write_text("[watch]\nno-such-option = 1\n")
        bad = watch("--once", "--config", str(config))
        assert bad.exit_code == 2 and bad.stderr.startswith("error: --config: unknown key 'no-such-option'")


@pytest.mark.parametrize("args, says", [
    (["--interval", "soon"], "--interval: 'soon' is not a duration"),
    (["--interval", "0"], "--interval: '0' is not a duration"),
    (["--smtp", "smtp://127.0.0.1:2525"], "--smtp needs --mail-to"),
    (["--notify", "pager:tomorrow"], "notifier 'pager:tomorrow'"),
    (["--webhook", "ftp://example.org"], "webhook notifier needs an http(s) URL"),
    (["--store", "/no/such/store"], "no profile store at /no/such/store"),
    (["--no-such-option"], "No such option '--no-such-option'"),
])
def test_bad_input_is_one_line_and_exit_2(updated, tmp_path, args, says):
    base = ["--once", "--store", str(updated), "--alert-store", str(tmp_path / "a.sqlite")]
    result = watch(*base, *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def test_help_explains_the_options():
    result = watch("--help")
    assert result.exit_code == 0
    for option in ("--store", "--phoenix-project", "--interval", "--once", "--resolve-after", "--webhook", "--slack",
                   "--smtp", "--mail-to", "--alert-store", "--config", "--history", "--retry-base"):
        assert option in result.stdout


def test_the_drift_report_shows_the_alert_timeline_when_there_is_an_alert_store(updated, tmp_path, monkeypatch):
    import base64
    import re

    alerts = tmp_path / "alerts.sqlite"
    monkeypatch.setenv("AGENTTRACE_ALERT_STORE", str(alerts))
    drift = ["drift", "--store", str(updated), "--fail-on", "never", "--no-progress",
             "--json", str(tmp_path / "r.json")]
    before = CliRunner().invoke(main, [*drift, "--html", str(tmp_path / "before.html")], catch_exceptions=False)
    assert before.exit_code == 0, before.output
    assert "<h2>Alerts</h2>" not in (tmp_path / "before.html").read_text()  # no alert store yet: no timeline

    assert watch("--once", "--store", str(updated)).exit_code == 0  # the alert store from the environment
    after = CliRunner().invoke(main, [*drift, "--html", str(tmp_path / "after.html")], catch_exceptions=False)
    assert after.exit_code == 0, after.output
    page = (tmp_path / "after.html").read_text()
    section = page[page.index("<h2>Alerts</h2>"):]
    image = re.search(r'src="data:image/png;base64,([^"]+)"', section)
    assert image and base64.b64decode(image.group(1)).startswith(b"\x89PNG")
    assert "alert timeline" in section


def test_slack_and_email_get_one_message_per_incident_and_a_resolution_is_sent_once(updated, stationary, tmp_path):
    from alert_receivers import SmtpReceiver

    alerts = str(tmp_path / "alerts.sqlite")
    with HookReceiver() as slack, SmtpReceiver() as smtp:
        notify = ["--alert-store", alerts, "--slack", slack.url, "--smtp", f"smtp://127.0.0.1:{smtp.port}",
                  "--mail-to", "oncall@example.org", "--mail-to", "lead@example.org", "--resolve-after", "1s"]
        assert watch("--once", "--store", str(updated), *notify).exit_code == 0
        opened = len(slack.bodies())
        assert opened >= 1 and len(smtp.messages) == opened
        assert all(m["to"] == ["oncall@example.org", "lead@example.org"] for m in smtp.messages)
        assert any("gpt-4o-2024-11-20" in m["message"]["Subject"] for m in smtp.messages)
        # the condition clears (the traffic is stationary): the clear timer starts, then they resolve, once
        cleared = watch("--once", "--store", str(stationary), *notify)
        assert cleared.exit_code == 0 and "0 events" in cleared.stdout and len(slack.bodies()) == opened
        time.sleep(1.1)
        resolved = watch("--once", "--store", str(stationary), *notify)
        assert resolved.exit_code == 0 and f"{opened} events, {2 * opened} sent" in resolved.stdout, resolved.stdout
        assert len(slack.bodies()) == 2 * opened and len(smtp.messages) == 2 * opened
        assert all("resolved" in b["text"] for b in slack.bodies()[opened:])
        again = watch("--once", "--store", str(stationary), *notify)
        assert "0 events, 0 sent" in again.stdout and len(slack.bodies()) == 2 * opened
