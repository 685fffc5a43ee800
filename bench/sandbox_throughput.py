"""Throughput of the code sandbox: our warm pool vs one `docker run` per program, in one run.

    python bench/sandbox_throughput.py [--limit 200]

Both sides run the same programs (the first N rows of ../shared/corpora/code/sft_pairs.jsonl
whose reference label is not a timeout: a timeout measures the time limit, not the sandbox),
with the same hardened flags, image, runner and harness, the same number of programs at
once (the pool size, default = CPU cores), and their verdicts must agree. The anchor is the
usual way: `docker run --rm -i` per program. Printed: exec/s, p50/p95 latency, the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.progress import Progress  # noqa: E402
from sandbox_corpus import load_rows, to_record  # noqa: E402

from sandbox.engine import (  # noqa: E402
    CONTAINER_ENV,
    OWNER_LABEL,
    SANDBOX_LABEL,
    UID_BASE,
    container_memory_mb,
    owner_label,
    runner_command,
    runner_init,
)
from sandbox.extract import extract_code  # noqa: E402
from sandbox.jobs import Limits, build_job  # noqa: E402
from sandbox.outcome import verdict_for  # noqa: E402
from sandbox.spec import parse_spec  # noqa: E402
from sandbox.verifier import CodeVerifier  # noqa: E402


def docker_run_argv(verifier: CodeVerifier, slot: int) -> list[str]:
    """`docker run` with the same hardening the pool's containers get (sandbox/engine.py)."""
    config = verifier.config
    memory = f"{container_memory_mb(config)}m"
    uid = UID_BASE + slot
    argv = [
        "docker", "run", "--rm", "-i", "--network", "none", "--read-only",
        "--tmpfs", f"/tmp:rw,nosuid,nodev,noexec,size={config.tmp_mb}m,mode=1777", "--shm-size", f"{config.shm_mb}m",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--pids-limit", str(config.pids_limit),
        "--memory", memory, "--memory-swap", memory, "--cpus", str(config.cpus), "--log-driver", "none",
        "--user", f"{uid}:{uid}", "--workdir", "/tmp", "--hostname", "sandbox",
        "--label", f"{SANDBOX_LABEL}=1", "--label", f"{OWNER_LABEL}={owner_label()}",
    ]
    for key, value in CONTAINER_ENV.items():
        argv += ["-e", f"{key}={value}"]
    return argv + [config.image, *runner_command()]


def one_docker_run(verifier: CodeVerifier, record, spec, slot: int):
    """Run one program in its own `docker run` container; (verdict, seconds)."""
    options = verifier.options
    parsed = parse_spec(spec, options.max_timeout_s, options.max_memory_mb)
    job = build_job(extract_code(record.response, options.block).code, parsed, Limits(options.timeout_s, options.memory_mb, options.output_cap_kb * 1024))
    stdin = json.dumps(runner_init(verifier.config)) + "\n" + json.dumps(job.message) + "\n"
    started = time.perf_counter()
    completed = subprocess.run(docker_run_argv(verifier, slot), input=stdin, capture_output=True, text=True, timeout=job.reply_timeout + 30)
    seconds = time.perf_counter() - started
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    if len(lines) < 2:
        raise SystemExit(f"docker run gave no result (exit {completed.returncode}): {completed.stderr[-500:]}")
    return verdict_for(parsed, job, json.loads(lines[-1]), {}), seconds


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def summary(name: str, count: int, wall: float, latencies: list[float]) -> dict[str, float]:
    figures = {"exec_per_s": count / wall, "p50_ms": percentile(latencies, 50) * 1000, "p95_ms": percentile(latencies, 95) * 1000, "wall_s": wall}
    print(f"{name:<28} {figures['exec_per_s']:7.1f} exec/s   p50 {figures['p50_ms']:7.1f} ms   p95 {figures['p95_ms']:7.1f} ms   ({count} programs in {wall:.1f} s)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=200, help="number of programs (default 200)")
    parser.add_argument("--pool-size", type=int, default=None, help="containers at once, both sides (default: CPU cores)")
    args = parser.parse_args()

    rows = [row for row in load_rows() if row["verified"]["status"] != "timeout"][: args.limit]
    items = [to_record(row, line) for line, row in enumerate(rows, start=1)]
    verifier = CodeVerifier({"pool_size": args.pool_size} if args.pool_size else {})
    size = verifier.config.size
    print(f"{len(items)} programs, {size} at once, {os.cpu_count()} CPU cores, load average before: {os.getloadavg()[0]:.2f}")
    try:
        started = time.perf_counter()
        verifier.pool.warm_up()
        print(f"pool warm-up: {size} containers in {time.perf_counter() - started:.2f} s")
        with Progress(transient=True) as progress:
            task = progress.add_task("warm pool", total=len(items))
            pool_verdicts = []
            started = time.perf_counter()
            for first in range(0, len(items), 20):
                pool_verdicts += verifier.verify_batch(items[first : first + 20])
                progress.update(task, completed=len(pool_verdicts))
            pool_wall = time.perf_counter() - started
        pool = summary("warm pool (ours)", len(items), pool_wall, [v.seconds for v in pool_verdicts])
        cost = statistics.mean(v.details["job_cpu_s"] for v in pool_verdicts)
        print(f"{'':<28} CPU per program inside the containers (runner + fresh interpreter + program): {cost * 1000:.1f} ms,"
              f" i.e. {os.cpu_count() / cost:.0f} exec/s if all {os.cpu_count()} cores were free")

        with Progress(transient=True) as progress, ThreadPoolExecutor(max_workers=size) as executor:
            task = progress.add_task("docker run per program", total=len(items))
            started = time.perf_counter()
            futures = [executor.submit(one_docker_run, verifier, record, spec, index % size) for index, (record, spec) in enumerate(items)]
            run_results = []
            for future in futures:
                run_results.append(future.result())
                progress.update(task, completed=len(run_results))
            run_wall = time.perf_counter() - started
        per_run = summary("docker run per program", len(items), run_wall, [seconds for _, seconds in run_results])
    finally:
        verifier.close()

    agree = sum(a.status == b.status for a, (b, _) in zip(pool_verdicts, run_results, strict=True))
    labels = sum((v.status == "pass") == row["expected_pass"] for v, row in zip(pool_verdicts, rows, strict=True))
    print(f"speed-up: {pool['exec_per_s'] / per_run['exec_per_s']:.1f}x exec/s (goal >= 15x); pool goal >= 40 exec/s: {'met' if pool['exec_per_s'] >= 40 else 'NOT met'}")
    print(f"verdicts: pool and docker-run agree on {agree}/{len(items)}; pool agrees with the labels on {labels}/{len(items)}")
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes on this machine share the cores)")


if __name__ == "__main__":
    main()
