"""Sustained load: many agent processes → OTLP gRPC → a local Phoenix on SQLite vs on PostgreSQL.

    python benchmarks/sustained_load.py            # full run (~15 min on 2 cores)
    python benchmarks/sustained_load.py --quick    # ~5 min
    python benchmarks/sustained_load.py --databases postgresql --steps 20,80 --rates 1,0.1

``--agents`` processes (benchmarks/load_agent.py: a real LangGraph react agent on a scripted chat
model, instrumented with ``agenttrace.configure()``, gRPC export through the batch processor) offer
a ramp of loads (``--steps``, runs/s over all processes) to one Phoenix per database — SQLite
(Phoenix's default) and PostgreSQL (a throwaway cluster, tests/postgres_server.py). Per step:

- offered: spans/s the agents handed to export; stored: spans Phoenix's database holds once its
  count stopped growing after the step; lag: how long after the agents' flush it kept growing
  (Phoenix's backlog); ingested: stored / (step + lag), spans/s;
- dropped, by where: agent-side (export queue full) vs refused by Phoenix (export failed: its
  queue is full, gRPC RESOURCE_EXHAUSTED / HTTP 503, or the export timed out);
- added latency p50 / p99 per run: instrumented minus uninstrumented run time, same process;
- Phoenix's peak RSS (psutil, the server and its children).

Saturation is the first step that drops or loses spans, or whose backlog takes Phoenix more than
5 s to drain after the agents flushed; the ramp goes on until Phoenix pushes back (drops spans).
``--rates ''`` skips the sampling part.
Then head sampling (``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` at ``--rates``) at
``--factor`` × the saturating load, on ``--sampling-database``: which rate keeps ingestion healthy,
while trajectory profiles and the retry monitor still count every run. Prints tables; writes a plot
to docs/images/sustained_load.png. The agents, Phoenix and PostgreSQL share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

import psutil  # noqa: E402

import load_agent  # noqa: E402
from agenttrace_phoenix import LocalPhoenix  # noqa: E402
from phoenix_fixtures import free_port, shared_venv  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402

PROJECT = "sustained-load"
RATES = "1,0.5,0.2,0.1,0.05"
COUNT = ("SELECT count(*) FROM spans JOIN traces ON spans.trace_rowid = traces.id "
         "JOIN projects ON traces.project_rowid = projects.id WHERE projects.name = ?")
LAG_OK = 5.0  # seconds: a backlog that drains within this after the step is "keeping up"


class RssPeak:
    """Peak RSS of a process and its children, sampled every 0.5 s while armed."""

    def __init__(self, pid: int) -> None:
        self.proc, self.peak = psutil.Process(pid), 0
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass

    def take(self) -> int:
        peak, self.peak = self.peak, 0
        return peak

    def stop(self) -> None:
        self._stop.set()


class Backend:
    """A local Phoenix on SQLite or on a throwaway PostgreSQL cluster; counts its stored spans."""

    def __init__(self, kind: str) -> None:
        self.kind, self.pg = kind, None
        self.base = Path(tempfile.mkdtemp(prefix=f"load-{kind}-"))
        venv = shared_venv()
        self.phoenix = LocalPhoenix(self.base, venv_dir=venv if venv.exists() else None)
        saved = dict(os.environ)
        try:
            options = {}
            if kind == "postgresql":
                self.pg = PostgresServer().start()
                self.url = self.pg.create_database()
                options["database"] = self.url  # agenttrace phoenix start --database (installs asyncpg in its venv)
            self.info = self.phoenix.start(port=free_port(), grpc_port=free_port(), log=lambda line: None, **options)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.rss = RssPeak(self.info.pid)

    def stored(self, project: str) -> int:
        """Spans of ``project`` in Phoenix's database."""
        if self.kind == "postgresql":
            import psycopg

            with psycopg.connect(self.url) as conn:
                return conn.execute(COUNT.replace("?", "%s"), (project,)).fetchone()[0]
        with sqlite3.connect(f"file:{self.base / 'data' / 'phoenix.db'}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(COUNT, (project,)).fetchone()[0]

    def settled(self, project: str, settle: float = 8.0, limit: float = 180.0) -> tuple:
        """(spans stored once the count stopped growing for ``settle`` s, seconds until its last change)."""
        began = time.monotonic()
        last, since = -1, began
        while time.monotonic() < began + limit:
            n = self.stored(project)
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= settle:
                break
            time.sleep(0.25)
        return last, since - began

    def close(self) -> None:
        self.rss.stop()
        self.phoenix.stop()
        if self.pg is not None:
            self.pg.stop()


class Agents:
    """``n`` agent processes (spawned: each its own interpreter, as in production)."""

    def __init__(self, n: int, endpoint: str) -> None:
        self.steps = 0
        ctx = mp.get_context("spawn")
        self.commands, self.results = ctx.Queue(), ctx.Queue()
        self.procs = [ctx.Process(target=load_agent.serve, args=(self.commands, self.results, endpoint),
                                  daemon=True) for _ in range(n)]
        for p in self.procs:
            p.start()

    def step(self, rate: float, seconds: float, sample_rate: float) -> dict:
        self.steps += 1
        project = f"{PROJECT}-{self.steps}"  # a project per step: a late backlog is not the next step's
        for _ in self.procs:
            self.commands.put((rate / len(self.procs), seconds, sample_rate, project))
        parts = [self.results.get(timeout=seconds + 120) for _ in self.procs]
        total = {k: sum(p[k] for p in parts) for k in ("runs", "recorded", "exported", "profile_rows", "model_calls",
                                                       "queue_full", "refused", "abandoned")}
        total["elapsed"] = max(p["elapsed"] for p in parts)
        total["project"] = project
        added = sorted(i - u for p in parts for i, u in zip(p["instrumented"], p["plain"]))
        total["p50_ms"] = 1000 * statistics.median(added) if added else 0.0
        total["p99_ms"] = 1000 * added[min(len(added) - 1, int(0.99 * len(added)))] if added else 0.0
        total["plain_p50_ms"] = 1000 * statistics.median([u for p in parts for u in p["plain"]] or [0])
        return total

    def close(self) -> None:
        for _ in self.procs:
            self.commands.put(None)
        for p in self.procs:
            p.join(30)


def measure(backend: Backend, agents: Agents, rate: float, seconds: float, sample_rate: float = 1.0) -> dict:
    backend.rss.take()
    row = agents.step(rate, seconds, sample_rate)
    stored, catch_up = backend.settled(row["project"])  # after every agent flushed: Phoenix's backlog drains
    s = row["elapsed"]
    row.update(target=rate, runs_s=row["runs"] / s, offered_s=row["exported"] / s, ingested_s=stored / (s + catch_up),
               stored=stored, catch_up_s=catch_up, lost=row["exported"] - stored, rss_mib=backend.rss.take() / 2**20,
               sample_rate=sample_rate, database=backend.kind)
    # healthy: nothing dropped or lost, and Phoenix keeps up (stored within LAG_OK s of the agents' flush)
    row["healthy"] = row["queue_full"] + row["refused"] + row["abandoned"] == 0 and row["lost"] <= 0.01 * row["exported"] \
        and catch_up <= LAG_OK
    return row


HEAD = (f"{'db':<10} {'runs/s':>7} {'sample':>6} {'offered sp/s':>12} {'ingested sp/s':>13} {'stored':>8} "
        f"{'q-full':>7} {'refused':>7} {'lost':>7} {'lag s':>6} {'+p50 ms':>8} {'+p99 ms':>8} {'RSS MiB':>8} {'runs':>6} "
        f"{'profiled':>8} ok")


def line(r: dict) -> str:
    return (f"{r['database']:<10} {r['runs_s']:>7.1f} {r['sample_rate']:>6.2f} {r['offered_s']:>12.0f} "
            f"{r['ingested_s']:>13.0f} {r['stored']:>8,} {r['queue_full']:>7,} {r['refused']:>7,} {r['lost']:>7,} {r['catch_up_s']:>6.1f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['rss_mib']:>8.0f} {r['runs']:>6,} {r['profile_rows']:>8,} "
            f"{'yes' if r['healthy'] else 'NO'}")


def plot(ramps: dict, sampling: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for db, rows in ramps.items():
        left.plot([r["offered_s"] for r in rows], [r["ingested_s"] for r in rows], "o-", label=f"Phoenix on {db}")
    top = max([r["offered_s"] for rows in ramps.values() for r in rows] or [1])
    left.plot([0, top], [0, top], ":", color="grey", label="ingested = offered")
    left.set(xlabel="spans/s offered (agents)", ylabel="spans/s stored by Phoenix", title="Ramp: ingestion")
    left.legend()
    if sampling:
        rates = [r["sample_rate"] for r in sampling]
        right.plot(rates, [r["offered_s"] for r in sampling], "o-", label="spans/s offered")
        right.plot(rates, [r["ingested_s"] for r in sampling], "s-", label="spans/s stored")
        right.plot(rates, [max(0, r["lost"]) / r["elapsed"] for r in sampling], "^-", label="spans/s not stored")
        right.set_xscale("log")
        right.set(xlabel="head sampling rate", ylabel="spans/s", title=f"Sampling at the highest load ({sampling[0]['database']})")
        right.legend()
    fig.suptitle("agenttrace → OTLP gRPC → Phoenix, 2 cores shared by agents, Phoenix and PostgreSQL", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter steps, fewer of them, rates 1,0.2,0.05 (~5 min)")
    parser.add_argument("--agents", type=int, default=4, help="agent processes (default 4)")
    parser.add_argument("--steps", default="", help="offered loads, runs/s over all agents (default 2,5,10,20,40,0; "
                                                    "0: flat out)")
    parser.add_argument("--seconds", type=float, default=0, help="seconds per step (default 20; --quick 10)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--rates", default=RATES, help=f"head sampling rates (default {RATES})")
    parser.add_argument("--factor", type=float, default=10.0, help="sampling load: this × the saturating load")
    parser.add_argument("--sampling-database", default="postgresql")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "images" / "sustained_load.png")
    parser.add_argument("--from-json", type=Path, help="print the tables and draw the plot of an earlier --json")
    args = parser.parse_args()
    if args.from_json:
        data = json.loads(args.from_json.read_text())
        print(HEAD)
        for row in [r for rows in data["ramps"].values() for r in rows] + data["sampling"]:
            print(line(row))
        plot(data["ramps"], data["sampling"], args.plot)
        return
    seconds = args.seconds or (10 if args.quick else 20)
    steps = [float(s) for s in (args.steps or ("5,20,0" if args.quick else "2,5,10,20,40,0")).split(",")]
    rates = [float(r) for r in ("1,0.2,0.05" if args.quick and args.rates == RATES else args.rates).split(",") if r]
    print(f"{args.agents} agent processes, {seconds:.0f} s per step, {os.cpu_count()} CPU cores shared by agents, "
          f"Phoenix and PostgreSQL\n{HEAD}", flush=True)
    ramps, sampling, saturation = {}, [], {}
    for db in args.databases.split(","):
        backend = Backend(db)
        agents = Agents(args.agents, backend.info.otlp_grpc_endpoint)
        try:
            ramps[db] = []
            for rate in steps:
                row = measure(backend, agents, rate, seconds)
                ramps[db].append(row)
                print(line(row), flush=True)
                if not row["healthy"] and db not in saturation:
                    saturation[db] = row
                if row["queue_full"] + row["refused"] or row["lost"] > 0.01 * row["exported"]:
                    break  # Phoenix pushes back: spans are dropped
            if db == args.sampling_database and rates:
                healthy = [r for r in ramps[db] if r["healthy"]]
                base = (healthy[-1] if healthy else ramps[db][0])["runs_s"]
                target = args.factor * base
                print(f"-- head sampling at {args.factor:g}× the last healthy load ({base:.1f} runs/s → "
                      f"{target:.0f} runs/s offered; the agents reach what 2 cores allow)", flush=True)
                for sample_rate in rates:
                    row = measure(backend, agents, target, seconds, sample_rate)
                    sampling.append(row)
                    print(line(row), flush=True)
        finally:
            agents.close()
            backend.close()
    for db, row in saturation.items():
        print(f"{db}: saturated (lag > {LAG_OK:g} s or drops) at {row['offered_s']:.0f} spans/s offered, "
              f"{row['ingested_s']:.0f} spans/s stored")
    for db, rows in ramps.items():
        pushed = [r for r in rows if r["queue_full"] + r["refused"] or r["lost"] > 0.01 * r["exported"]]
        if pushed:
            print(f"{db}: pushes back (drops) at {pushed[0]['offered_s']:.0f} spans/s offered: {pushed[0]['refused']:,} "
                  f"refused, {pushed[0]['queue_full']:,} agent queue full")
    plot(ramps, sampling, args.plot)
    print(f"plot: {args.plot}")
    if args.json:
        args.json.write_text(json.dumps({"ramps": ramps, "sampling": sampling}, indent=1, default=str))


if __name__ == "__main__":
    main()
