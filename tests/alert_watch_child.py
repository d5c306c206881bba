"""A watcher process for the kill -9 test: observe a growing set of incidents pass after pass and
deliver each pass's notifications to a webhook. Usage: alert_watch_child.py STORE URL INCIDENTS PASSES [stall]
``stall``: the first pass stops inside its transaction (after writing one outbox row), to be killed there."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from agenttrace.alerts import Alerter, AlertIncident
from agenttrace.alerts.notifiers import WebhookNotifier


def main() -> None:
    store, url, count, passes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    alerter = Alerter(store, [WebhookNotifier(url, timeout=10)], resolve_after=timedelta(days=1), backoff_base=0.05)
    if sys.argv[5:] == ["stall"]:
        enqueue = alerter.store.enqueue

        def enqueue_then_stall(cur, row):
            enqueue(cur, row)
            print("in transaction", flush=True)
            time.sleep(60)

        alerter.store.enqueue = enqueue_then_stall
    for step in range(passes):
        shown = min(count, 2 * (step + 1))
        alerter.observe([AlertIncident(id=f"incident-{i}", severity="warning", title=f"incident {i}",
                                       evidence="refusals up") for i in range(shown)])
        print(f"pass {step}: {alerter.deliver().sent} sent", flush=True)
    while alerter.pending():
        alerter.deliver()
    print("done", flush=True)


if __name__ == "__main__":
    main()
