"""Rows per second for `verify run` on the local engine and on Ray, on this machine, same input.

Three ways to run the same rows, each through the real CLI:
  local        the local engine (a process pool of --workers processes)
  ray-private  --engine ray with no address: a private Ray instance on 127.0.0.1, started and stopped
  ray-joined   --engine ray --ray-address: a Ray head already running on 127.0.0.1 (started here)

Two workloads: `nonempty` (trivial: measures each engine's own cost per row) and `burn`, a check
that spends a fixed CPU time per row (default 1 ms), standing in for math grading or IFEval.
While a run goes, its committed progress (out/.verify-state) is polled: "start-up" is the time to
the first committed rows, "steady" the rate between the first and the last commit, and "wall"
covers everything from process start to exit.

    python bench/ray_throughput.py [--rows 100000] [--burn-rows 30000] [--workers 2] [--burn-ms 1]

Expected scaling (printed at the end): on one machine Ray cannot beat the local engine — both use
the same cores, and Ray adds start-up (a Ray instance, Ray Data, worker processes) and a per-chunk
cost (object store, task scheduling). Across machines, verification runs on every node's cores, so
CPU-bound checks scale with the cluster's cores until the driver's serial work — ordering, writing
the output files, hashing kept rows, the duplicate-id table, "ordered" checks such as dedup —
saturates: that ceiling is what the `nonempty` row of the joined run shows.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from verify.records import Record, Verdict, passed
from verify.verifier import Options, Verifier, register

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PLUGINS = REPO / "tests" / "plugins"


class BurnOptions(Options):
    pass


@register
class Burn(Verifier):
    """Spends spec["ms"] milliseconds of this process's CPU time, then passes (a stand-in for real grading)."""

    name = "burn"
    version = "1"
    description = "benchmark only: burns a fixed CPU time per row"
    cacheable = False
    Options = BurnOptions

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        deadline = time.process_time() + spec.get("ms", 1) / 1000
        value = 0
        while time.process_time() < deadline:
            value = (value * 31 + 7) % 1_000_003
        return passed(self.name, "burned")


def make_rows(path: Path, count: int, check: dict[str, Any]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            row = {
                "id": f"row-{i}",
                "messages": [
                    {"role": "user", "content": f"Question {i}: what is {i % 97} plus {i % 89}?"},
                    {"role": "assistant", "content": f"{i % 97} plus {i % 89} is {i % 97 + i % 89}. " * 3},
                ],
                "checks": check,
            }
            handle.write(json.dumps(row) + "\n")
    return path


def run_cli(data: Path, rows: int, out: Path, engine_args: list[str], workers: int) -> dict[str, float]:
    """Wall seconds, seconds to the first commit, and the rate between the first and the last commit."""
    from verify.state import read_committed  # the run's committed progress, read-only

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGINS), str(BENCH)]), SFT_VERIFY_CACHE=str(out) + "-cache")
    command = [sys.executable, "-m", "verify.cli", "run", str(data), "-o", str(out), "--plugin", "pipeline_checks",
               "--plugin", "ray_throughput", "--workers", str(workers), "--no-cache", "--quiet", "--json", *engine_args]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = last = (0.0, 0)
    while process.poll() is None:
        progress = read_committed(out)
        line = progress.next_line if progress else 0
        now = time.perf_counter() - started
        if line > 1 and not first[1]:
            first = (now, line)
        if line > last[1]:
            last = (now, line)
        time.sleep(0.01)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"verify run failed ({process.returncode}): {stderr[-3000:]}")
    kept = json.loads(stdout)["counts"]["kept"]
    if kept != rows:
        raise SystemExit(f"expected {rows} kept rows, got {kept}")
    steady = (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else float("nan")
    return {"wall": wall, "startup": first[0], "steady": steady}


def start_head(folder: Path, workers: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
               RAY_AUTH_MODE="disabled", RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="0")
    env.pop("PYTHONPATH", None)
    temp_dir = tempfile.mkdtemp(prefix="rayb", dir="/tmp")
    log = folder / "head.log"
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", f"--num-cpus={workers}", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={temp_dir}"], env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while "Ray runtime started" not in log.read_text():
        if head.poll() is not None or time.monotonic() > deadline:
            head.kill()
            raise SystemExit(f"ray start failed: {log.read_text()[-2000:]}")
        time.sleep(0.5)
    return head, f"127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the trivial workload")
    parser.add_argument("--burn-rows", type=int, default=30_000, help="rows of the CPU-bound workload")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--burn-ms", type=float, default=1.0)
    parser.add_argument("--limit", type=int, default=None, help="cap both row counts (the bench convention)")
    args = parser.parse_args()
    sizes = {"nonempty": args.rows, f"burn {args.burn_ms:g} ms": args.burn_rows}
    checks = {"nonempty": {"nonempty": {}}, f"burn {args.burn_ms:g} ms": {"burn": {"ms": args.burn_ms}}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        head, address = start_head(folder, args.workers)
        try:
            engines = {"local": [], "ray-private": ["--engine", "ray"],
                       "ray-joined": ["--engine", "ray", "--ray-address", address]}
            print(f"--workers {args.workers}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
            print(f"{'workload':<14} {'rows':>8} {'engine':<12} {'wall s':>7} {'rows/s wall':>12} "
                  f"{'start-up s':>11} {'rows/s steady':>14}")
            for index, (label, check) in enumerate(checks.items()):
                rows = min(sizes[label], args.limit or sizes[label])
                data = make_rows(folder / f"data-{index}.jsonl", rows, check)
                steady: dict[str, float] = {}
                for engine, extra in engines.items():
                    r = run_cli(data, rows, folder / f"out-{index}-{engine}", extra, args.workers)
                    steady[engine] = r["steady"]
                    print(f"{label:<14} {rows:>8,} {engine:<12} {r['wall']:>7.1f} {rows / r['wall']:>12,.0f} "
                          f"{r['startup']:>11.1f} {r['steady']:>14,.0f}")
                for engine in ("ray-private", "ray-joined"):
                    print(f"{'':<14} {engine} / local: steady {steady[engine] / steady['local']:.2f}x")
        finally:
            head.send_signal(signal.SIGTERM)
            head.wait(timeout=60)
    print("Expected scaling: one machine — Ray <= local (same cores, plus Ray's start-up and per-chunk costs). "
          "N machines — CPU-bound checks run on all N machines' cores; the ceiling is the driver's serial work, "
          "bounded by the 'nonempty' ray-joined steady rate above.")


if __name__ == "__main__":
    main()
