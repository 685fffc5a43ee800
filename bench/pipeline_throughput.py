"""Pipeline throughput and memory: `verify run` on 10k and 1M rows with a trivial check.

Prints rows/s and peak RSS (the main process, and the whole process tree with its workers) for each
size, and the ratio of peak RSS at 1M to 10k rows (goal: within 1.2x, i.e. memory stays flat).
The trivial check is `nonempty` from tests/plugins/pipeline_checks.py, so the figure measures the
pipeline itself: reading, parsing, adapters, worker processes, ordering, writing, hashing, commits.

    python bench/pipeline_throughput.py [--rows 1000000] [--small 10000] [--workers 2] [--cache]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLUGINS = REPO / "tests" / "plugins"


def make_rows(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            row = {
                "id": f"row-{i}",
                "messages": [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": f"Question {i}: what is {i % 97} plus {i % 89}? Explain briefly."},
                    {"role": "assistant", "content": f"{i % 97} plus {i % 89} is {i % 97 + i % 89}. " * 3},
                ],
                "checks": {"nonempty": {}},
                "source": "bench",
            }
            handle.write(json.dumps(row) + "\n")


def tree_rss_kb(pid: int) -> tuple[int, int]:
    """(RSS of pid, RSS of pid and all its descendants) in KiB, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack += children.get(current, [])
    return rss.get(pid, 0), total


def measure(data: Path, out: Path, workers: int, cache: bool, cache_dir: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(PLUGINS), SFT_VERIFY_CACHE=str(cache_dir))
    command = [sys.executable, "-m", "verify.cli", "run", str(data), "-o", str(out), "--plugin", "pipeline_checks",
               "--workers", str(workers), "--quiet", "--json"]
    if not cache:
        command.append("--no-cache")
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_main = peak_tree = 0
    while process.poll() is None:
        main, tree = tree_rss_kb(process.pid)
        peak_main, peak_tree = max(peak_main, main), max(peak_tree, tree)
        time.sleep(0.05)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"verify run failed ({process.returncode}): {stderr}")
    summary = json.loads(stdout)
    return {"rows": summary["rows"], "seconds": seconds, "rows_per_s": summary["rows"] / seconds,
            "pipeline_rows_per_s": summary["rows_per_second"], "peak_main_mib": peak_main / 1024,
            "peak_tree_mib": peak_tree / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", action="store_true", help="use the verdict cache (a fresh one: all misses)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {}
        for count in (args.small, args.rows):
            data = folder / f"rows-{count}.jsonl"
            make_rows(data, count)
            results[count] = measure(data, folder / f"out-{count}", args.workers, args.cache, folder / f"cache-{count}")
            r = results[count]
            print(f"{count:>9,} rows: {r['rows_per_s']:>8,.0f} rows/s wall (incl. start-up), "
                  f"{r['pipeline_rows_per_s']:>8,.0f} rows/s in the run; peak RSS main {r['peak_main_mib']:.0f} MiB, "
                  f"all processes {r['peak_tree_mib']:.0f} MiB")
        small, big = results[args.small], results[args.rows]
        print(f"peak RSS ratio {args.rows:,} / {args.small:,} rows: main {big['peak_main_mib'] / small['peak_main_mib']:.2f}x, "
              f"all processes {big['peak_tree_mib'] / small['peak_tree_mib']:.2f}x (goal <= 1.2x)")
        print(f"throughput at {args.rows:,} rows: {big['rows_per_s']:,.0f} rows/s (goal >= 20,000 on 2 cores); "
              f"workers={args.workers} cache={'on' if args.cache else 'off'} cpus={os.cpu_count()}")


if __name__ == "__main__":
    main()
