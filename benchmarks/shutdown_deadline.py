"""How long ``flush(timeout=5)`` and process exit take when the OTLP backend is dead or hanging.

    python benchmarks/shutdown_deadline.py [--runs 5] [--repeat 1]

For each backend — a closed port ("dead") and a listener that accepts connections and never
answers ("hanging") — and each protocol (http/protobuf, grpc), two fresh interpreters run the
tests' LangGraph tool-calling agent ``--runs`` times with ``agenttrace.configure()`` defaults:

* flush: then call ``Telemetry.flush(timeout=5)``; prints its wall time, what it returned and
  ``dropped_spans`` right after (the process then leaves with ``os._exit``, skipping exit hooks);
* exit: then return from the script; prints the wall time from the script's last line to the
  process being gone, as its parent sees it (atexit flush/shutdown included). The same script
  without agenttrace gives the interpreter's own exit time, for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from otlp_receivers import HangingReceiver, closed_port_endpoint  # noqa: E402

TESTS = str(Path(__file__).resolve().parents[1] / "tests")

CHILD = """
import json, os, sys, time
sys.path.insert(0, {tests!r})
import agenttrace
from conftest import ask, build_agent
traced = {endpoint!r} != "untraced"
t = agenttrace.configure(project="bench", endpoint={endpoint!r}, protocol={protocol!r}) if traced else None
graph = build_agent()
for _ in range({runs}):
    graph.invoke(ask(), config={{"callbacks": [t.callback_handler] if traced else []}})
if {mode!r} == "flush":
    t0 = time.monotonic()
    result = t.flush(timeout=5)
    took = time.monotonic() - t0
    said = str(result) if isinstance(result, bool) else (
        f"{{bool(result)}} ({{result.pending_spans}} pending, {{result.failed_spans}} failed)")
    print(json.dumps({{"flush_s": took, "returned": said, "dropped": t.dropped_spans}}), flush=True)
    os._exit(0)
print(json.dumps({{"exit_from": time.time()}}), flush=True)
"""


def child(endpoint: str, protocol: str, mode: str, runs: int) -> dict:
    code = CHILD.format(tests=TESTS, endpoint=endpoint, protocol=protocol, mode=mode, runs=runs)
    env = dict(os.environ, WHYLOGS_NO_ANALYTICS="1", HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    line = proc.stdout.readline()
    proc.wait(timeout=300)
    gone = time.time()
    out = json.loads(line)
    if mode == "exit":
        out["exit_s"] = gone - out.pop("exit_from")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="agent runs before flush/exit (about 13 spans each)")
    parser.add_argument("--repeat", type=int, default=1, help="repeat each measurement, report each")
    args = parser.parse_args()

    hanging = HangingReceiver()
    backends = {"dead (closed port)": (closed_port_endpoint(), closed_port_endpoint().removesuffix("/v1/traces")),
                "hanging": (hanging.endpoint, hanging.grpc_endpoint)}
    base = [child("untraced", "http/protobuf", "exit", args.runs)["exit_s"] for _ in range(args.repeat)]
    print(f"exit of the same script without agenttrace: {', '.join(f'{b:.2f}' for b in base)} s")
    print(f"{'backend':<20}{'protocol':<15}{'flush(5) s':>11}  {'flush returned':<32}{'dropped':>8}{'exit s':>8}")
    for backend, (http_endpoint, grpc_endpoint) in backends.items():
        for protocol in ("http/protobuf", "grpc"):
            endpoint = grpc_endpoint if protocol == "grpc" else http_endpoint
            for _ in range(args.repeat):
                f = child(endpoint, protocol, "flush", args.runs)
                e = child(endpoint, protocol, "exit", args.runs)
                print(f"{backend:<20}{protocol:<15}{f['flush_s']:>11.2f}  {f['returned']:<32}{f['dropped']:>8}"
                      f"{e['exit_s']:>8.2f}", flush=True)
    hanging.close()


if __name__ == "__main__":
    main()
