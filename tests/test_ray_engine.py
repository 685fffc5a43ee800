"""`--engine ray` gives the local engine's outputs: kept rows byte for byte, other files row for row.

One Ray head node per test session, bound to 127.0.0.1, started without the test plug-ins on its
PYTHONPATH (so plug-ins reach its workers only by being shipped). Most tests drive the Pipeline
in this process, joined to that cluster once, so Ray's workers stay warm between runs; a few
drive the real CLI: `--ray-address`, SIGKILL and `--resume`, and a private instance started with
no address.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from spine import PLUGINS, chat, cli_env, committed_line, read_jsonl, run_verify, without_seconds, write_jsonl

from verify.pipeline import Pipeline, RunConfig

ray = pytest.importorskip("ray")

OUTCOMES = ("kept", "rejected", "errors", "unchecked", "invalid")
PLUGIN = ("pipeline_checks",)
HEAD_START_TIMEOUT_S = 180


# ---- the session's cluster ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """A one-node Ray cluster on 127.0.0.1 for the whole session (2 CPUs, no dashboard)."""
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="rayt", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "RAY_ADDRESS")}
    # On 127.0.0.1 only (single-machine mode); no token authentication, which a driver would have to opt into
    # before it imports Ray (RAY_AUTH_MODE=token), as docs/ray.md explains for real clusters.
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="disabled",
               RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="0")  # stop at once at the end, no 30 s drain
    log = open(Path(temp_dir) / "head.log", "w+")
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={temp_dir}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + HEAD_START_TIMEOUT_S
    while "Ray runtime started" not in Path(log.name).read_text():
        if head.poll() is not None or time.monotonic() > deadline:
            head.kill()
            pytest.fail(f"ray start did not come up: {Path(log.name).read_text()[-2000:]}")
        time.sleep(0.5)
    try:
        yield address
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        log.close()


@pytest.fixture(scope="session")
def joined(ray_address: str) -> Iterator[str]:
    """This test process joined to the session cluster, the test plug-ins shipped to its workers."""
    from verify.engine_ray import connect, import_ray

    sys.path.insert(0, str(PLUGINS))
    try:
        connect(import_ray(), ray_address, 2, PLUGIN)
        yield ray_address
    finally:
        ray.shutdown()


# ---- inputs and comparisons -----------------------------------------------------------------------


def mixed_rows(count: int) -> list[Any]:
    """Every kind of row: process, main and ordered checks; invalid, blank, oversize, duplicate-id,
    id-less, unchecked, CRLF and invalid-UTF-8 lines."""
    rows: list[Any] = []
    for i in range(count):
        if i % 997 == 3:
            rows.append("{broken")
        elif i % 991 == 5:
            rows.append("")
        elif i % 983 == 7:
            rows.append(json.dumps(chat("x" * 5000, checks={"nonempty": {}})))  # over --max-line-bytes 4096
        elif i % 977 == 9:
            rows.append(json.dumps(chat("dup", id=f"r{i - 1}", checks={"nonempty": {}})))
        elif i % 971 == 11:
            rows.append(json.dumps(chat("no checks", id=f"r{i}", checks={})))
        elif i % 967 == 13:
            rows.append(json.dumps(chat("typo", id=f"r{i}", checks={"nonempyt": {}})))
        else:
            checks: dict[str, Any] = {"nonempty": {}, "contains": {"text": "reply"}}
            if i % 13 == 0:
                checks["mainside"] = {"ok": "error" if i % 39 == 0 else i % 2 == 0}
            if i % 17 == 0:
                checks["seen"] = {}
            text = f"bad {i % 40}" if i % 5 == 0 else f"reply {i % 400}"
            fields = {} if i % 11 == 0 else {"id": f"r{i}"}  # id-less rows are named by line number
            rows.append(json.dumps(chat(text, checks=checks, **fields)))
    return rows


def write_mixed(path: Path, count: int) -> Path:
    lines = [line.encode() for line in mixed_rows(count)]
    lines[100] += b"\r"  # a CRLF line
    lines.append(b'{"id": "\xff\xfe"}')  # invalid UTF-8
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run(source: Path | str, out: Path, engine: str, **options: Any) -> Any:
    config = RunConfig(input=source, out_dir=out, engine=engine, workers=options.pop("workers", 0 if engine == "local" else 2),
                       plugins=PLUGIN, max_line_bytes=4096, **options)
    return Pipeline(config).run()


MEASURED = ("wall_s", "cpu_s", "job_cpu_s", "max_rss_kb")  # what the code check measures: differs between any two runs


def comparable(rows: list[dict]) -> list[dict]:
    for row in without_seconds(rows):
        for verdict in row.get("verdicts", []):
            for key in MEASURED:
                verdict["details"].pop(key, None)
    return rows


def assert_same_outputs(local: Path, other: Path) -> None:
    assert (other / "kept.jsonl").read_bytes() == (local / "kept.jsonl").read_bytes()
    for name in OUTCOMES[1:]:
        assert comparable(read_jsonl(other / f"{name}.jsonl")) == comparable(read_jsonl(local / f"{name}.jsonl")), name
    local_report = json.loads((local / "report.json").read_text())
    other_report = json.loads((other / "report.json").read_text())
    assert other_report["counts"] == local_report["counts"]
    assert other_report["adds_up"] is True
    local_manifest = json.loads((local / "manifest.json").read_text())
    other_manifest = json.loads((other / "manifest.json").read_text())
    local_manifest.pop("created_at")
    other_manifest.pop("created_at")
    assert other_manifest == local_manifest


# ---- in-process runs on the session cluster -----------------------------------------------------------


def test_20k_mixed_rows_equal_the_local_engine(joined: str, tmp_path: Path) -> None:
    source = write_mixed(tmp_path / "data.jsonl", 20_000)
    local = run(source, tmp_path / "local", "local", use_cache=False)
    on_ray = run(source, tmp_path / "ray", "ray", use_cache=False)
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    counts = on_ray.stats.outcomes
    assert counts == local.stats.outcomes
    assert all(counts[name] > 0 for name in OUTCOMES), counts
    invalid = {row["error"].split(":")[0].split(" ")[0] for row in read_jsonl(tmp_path / "ray" / "invalid.jsonl")}
    assert {"malformed", "line", "duplicate", "unknown", "invalid"} <= invalid
    assert on_ray.input_lines == 20_001
    ids = {row["id"] for row in read_jsonl(tmp_path / "ray" / "rejected.jsonl")}
    assert "line-1" in ids  # row 0 has no id: named by its exact line number


def test_bundled_example_equals_the_local_engine(joined: str, tmp_path: Path) -> None:
    """examples/mixed.jsonl: math, code, constraints and translation rows, every outcome. Without Docker
    both engines give the same `code.unavailable` errors; with it, the same verdicts."""
    example = Path(__file__).resolve().parent.parent / "examples" / "mixed.jsonl"
    local = run(example, tmp_path / "local", "local", use_cache=False)
    on_ray = run(example, tmp_path / "ray", "ray", use_cache=False)
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    assert on_ray.unavailable == local.unavailable
    assert {name for name, count in on_ray.stats.outcomes.items() if count} == set(OUTCOMES)
    assert {"math", "code", "constraints", "translation"} <= set(on_ray.stats.checks)


def test_small_ranges_many_pieces_and_resume_position(joined: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many byte ranges (so the newline-count pass and range readers matter) give the same outputs."""
    import verify.ray_source as ray_source

    monkeypatch.setattr(ray_source, "RANGE_BYTES", 4096)  # read in the driver: pieces are planned here
    source = write_mixed(tmp_path / "data.jsonl", 3000)
    run(source, tmp_path / "local", "local", use_cache=False)
    run(source, tmp_path / "ray", "ray", use_cache=False)
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")


def test_changed_lines_only(joined: str, tmp_path: Path) -> None:
    source = write_mixed(tmp_path / "data.jsonl", 2500)
    changed = frozenset(range(1, 2502, 7)) | {2499, 2500}
    local = run(source, tmp_path / "local", "local", use_cache=False, changed_lines=changed, changed_since="HEAD")
    on_ray = run(source, tmp_path / "ray", "ray", use_cache=False, changed_lines=changed, changed_since="HEAD")
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    assert on_ray.stats.unchanged == local.stats.unchanged > 2000


def test_parquet_and_saved_dataset(joined: str, tmp_path: Path) -> None:
    import datasets

    rows = [chat(f"reply {i}" if i % 4 else "bad", id=f"p{i}", checks={"contains": {"text": "reply"}},
                 score=i / 7, tags=[f"t{i % 3}"]) for i in range(1500)]
    dataset = datasets.Dataset.from_list(rows)
    dataset.to_parquet(str(tmp_path / "data.parquet"), batch_size=400)  # several row groups
    dataset.save_to_disk(str(tmp_path / "saved"))
    for source in ("data.parquet", "saved"):
        run(tmp_path / source, tmp_path / f"local-{source}", "local", use_cache=False)
        run(tmp_path / source, tmp_path / f"ray-{source}", "ray", use_cache=False)
        assert_same_outputs(tmp_path / f"local-{source}", tmp_path / f"ray-{source}")
        assert len(read_jsonl(tmp_path / f"ray-{source}" / "kept.jsonl")) == 1125


def test_verdict_cache_is_shared_by_both_engines(joined: str, tmp_path: Path) -> None:
    source = write_mixed(tmp_path / "data.jsonl", 3000)
    cache = tmp_path / "verdicts.sqlite"
    first = run(source, tmp_path / "local", "local", cache_path=cache)
    second = run(source, tmp_path / "ray", "ray", cache_path=cache)
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    for name in ("nonempty", "contains", "mainside"):
        decided = second.stats.checks[name].total - second.stats.checks[name].counts["error"]
        assert first.stats.checks[name].cached < decided, name  # repeated rows hit the cache within a run too
        assert second.stats.checks[name].cached == decided > 0, name  # every decided verdict; errors never cached


def test_cache_through_the_coordinator_on_another_node(joined: str, tmp_path: Path) -> None:
    """A worker on a node other than the driver's reads and writes the driver's cache via the Coordinator."""
    from verify import ray_worker
    from verify.chunk import ChunkConfig
    from verify.reader import iter_jsonl

    cache = tmp_path / "verdicts.sqlite"
    from verify.cache import VerdictCache

    VerdictCache(cache).close()
    driver_node = ray.get_runtime_context().get_node_id()
    coordinator = ray_worker.Coordinator.options(scheduling_strategy=ray_worker.pinned(driver_node)).remote(
        str(cache), {}, PLUGIN, driver_node)
    elsewhere = "f" * len(driver_node)  # what a worker sees when the driver runs on another node
    assert isinstance(ray_worker.cache_reader(str(cache), elsewhere, coordinator), ray_worker.CoordinatorCache)
    assert isinstance(ray_worker.cache_reader(str(cache), driver_node, coordinator), VerdictCache)
    source = write_jsonl(tmp_path / "data.jsonl", [chat(f"reply {i}", checks={"nonempty": {}, "mainside": {"ok": True}})
                                                   for i in range(50)])
    lines = list(iter_jsonl(source))
    config = ChunkConfig(format="messages", cache_path=str(cache), plugins=PLUGIN)
    job = ray_worker.RayJob("t1", config, elsewhere, coordinator, None)
    first = ray_worker.WorkerSide(job)
    assert isinstance(first.worker.cache, ray_worker.CoordinatorCache)
    result = first.verify(lines, died=False)
    assert [row[3] for row in result.rows] == ["kept"] * 50
    assert all(not summary[5] for row in result.rows for summary in row[4])
    first.close()
    again = ray_worker.WorkerSide(ray_worker.RayJob("t2", config, elsewhere, coordinator, None))
    cached = again.verify(lines, died=False)
    assert all(summary[5] for row in cached.rows for summary in row[4] if summary[0] == "nonempty")
    again.close()
    ray.get(coordinator.close.remote())


def test_a_row_that_kills_its_worker_gets_error_verdicts(joined: str, tmp_path: Path) -> None:
    rows = [chat(f"fine {i}", checks={"crashy": {}, "mainside": {"ok": True}}) for i in range(40)]
    rows[7] = chat("raise", checks={"crashy": {}})
    rows[23] = chat("die", checks={"crashy": {}, "mainside": {"ok": True}})
    source = write_jsonl(tmp_path / "data.jsonl", rows)
    run(source, tmp_path / "local", "local", use_cache=False, workers=1)
    run(source, tmp_path / "ray", "ray", use_cache=False)
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    errors = {row["line"]: row["verdicts"] for row in read_jsonl(tmp_path / "ray" / "errors.jsonl")}
    assert sorted(errors) == [8, 24]
    assert errors[8][0]["code"] == "crashy.crash"
    assert [v["code"] for v in errors[24]] == ["crashy.worker_died", "mainside.pass"]
    assert errors[24][1]["status"] == "pass"  # the main check of the killer row still ran
    assert len(read_jsonl(tmp_path / "ray" / "kept.jsonl")) == 38


@pytest.mark.docker
def test_code_checks_run_in_the_nodes_own_sandbox(joined: str, tmp_path: Path) -> None:
    def code_row(body: str, tests: str) -> dict:
        return chat(f"```python\n{body}```\n", checks={"code": {"language": "python", "tests": tests, "entry_point": "f"}})

    tests = "assert f(2) == 4\nassert f(3) == 6\n"
    rows = [code_row("def f(x):\n    return 2 * x\n", tests), code_row("def f(x):\n    return x + 2\n", tests),
            code_row("def f(x) return\n", tests),
            chat("```python\nprint(sum(map(int, input().split())))\n```",
                 checks={"code": {"language": "python", "tests": [{"stdin": "1 2\n", "stdout": "3\n"}]}})] * 5
    source = write_jsonl(tmp_path / "data.jsonl", rows)
    options = {"code": {"pool_size": 2, "timeout_s": 5}}
    run(source, tmp_path / "local", "local", use_cache=False, options=options)
    on_ray = run(source, tmp_path / "ray", "ray", use_cache=False, options=options)
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    assert on_ray.unavailable == {}
    assert on_ray.stats.outcomes["kept"] == 10 and on_ray.stats.outcomes["rejected"] == 10


# ---- the real CLI ---------------------------------------------------------------------------------------


def test_cli_sigkill_then_resume_on_a_cluster(ray_address: str, tmp_path: Path) -> None:
    lines = mixed_rows(6000)
    slow = [json.loads(line) if line.startswith("{\"messages") else line for line in lines]
    for row in slow:  # ~1 ms per row on 2 CPUs: long enough to be killed in the middle
        if isinstance(row, dict) and "nonempty" in row.get("checks", {}):
            row["checks"]["slow"] = {"ms": 1}
    source = write_jsonl(tmp_path / "data.jsonl", slow)
    args = ["run", str(source), "--plugin", "pipeline_checks", "--no-cache", "--max-line-bytes", "4096"]
    reference = run_verify([*args, "-o", "local", "--workers", "0"], tmp_path)
    assert reference.returncode == 1, reference.stderr
    ray_args = [*args, "--engine", "ray", "--ray-address", ray_address]
    process = subprocess.Popen([sys.executable, "-m", "verify.cli", *ray_args, "-o", "cut"], cwd=tmp_path,
                               env=cli_env(tmp_path), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and committed_line(tmp_path / "cut") < 1500 and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
    written = sum(len(read_jsonl(tmp_path / "cut" / f"{name}.jsonl")) for name in OUTCOMES)
    assert 0 < written < 5990, "the kill must land in the middle of the run"
    resumed = run_verify([*ray_args, "-o", "cut", "--resume"], tmp_path)
    assert resumed.returncode == 1, resumed.stderr
    assert "resume: continuing at line" in resumed.stderr
    assert_same_outputs(tmp_path / "local", tmp_path / "cut")


def test_cli_private_instance_without_docker_gives_code_errors(tmp_path: Path) -> None:
    rows = [chat("fine", checks={"nonempty": {}}),
            chat("```python\ndef f(x):\n    return x\n```", checks={"code": {"language": "python",
                                                                           "tests": "assert f(1) == 1\n", "entry_point": "f"}})]
    source = write_jsonl(tmp_path / "data.jsonl", rows)
    result = run_verify(["run", str(source), "-o", "out", "--plugin", "pipeline_checks", "--engine", "ray",
                         "--workers", "1", "--json"], tmp_path, DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert result.returncode == 2, result.stderr
    assert "check 'code' could not run" in result.stderr
    errors = read_jsonl(tmp_path / "out" / "errors.jsonl")
    assert [(row["line"], row["verdicts"][0]["status"], row["verdicts"][0]["code"]) for row in errors] == [
        (2, "error", "code.unavailable")]
    assert len(read_jsonl(tmp_path / "out" / "kept.jsonl")) == 1


def test_cli_usage_errors(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "data.jsonl", [chat("a", checks={"nonempty": {}})])
    wrong_engine = run_verify(["run", str(source), "-o", "o1", "--ray-address", "127.0.0.1:6379"], tmp_path)
    assert wrong_engine.returncode == 2 and "--ray-address needs --engine ray" in wrong_engine.stderr
    port = free_port()
    nobody = run_verify(["run", str(source), "-o", "o2", "--engine", "ray", "--ray-address", f"127.0.0.1:{port}"],
                        tmp_path, timeout=60)
    assert nobody.returncode == 2 and f"nothing answers at --ray-address 127.0.0.1:{port}" in nobody.stderr
    garbled = run_verify(["run", str(source), "-o", "o3", "--engine", "ray", "--ray-address", "head-node"], tmp_path)
    assert garbled.returncode == 2 and "expected HOST:PORT" in garbled.stderr


def test_fsspec_url_input_on_both_engines(joined: str, tmp_path: Path) -> None:
    source = write_mixed(tmp_path / "data.jsonl", 3000)
    run(source, tmp_path / "path", "local", use_cache=False)
    reference = tmp_path / "path"
    for engine in ("local", "ray"):
        out = tmp_path / f"url-{engine}"
        run(source.as_uri(), out, engine, use_cache=False)
        assert (out / "kept.jsonl").read_bytes() == (reference / "kept.jsonl").read_bytes()
        for name in OUTCOMES[1:]:
            assert comparable(read_jsonl(out / f"{name}.jsonl")) == comparable(read_jsonl(reference / f"{name}.jsonl")), name
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["input"]["path"] == source.as_uri()
        assert manifest["kept"] == json.loads((reference / "manifest.json").read_text())["kept"]
    cli = run_verify(["run", source.as_uri(), "-o", "cli", "--plugin", "pipeline_checks", "--max-line-bytes", "4096",
                      "--engine", "ray", "--ray-address", joined], tmp_path)
    assert cli.returncode == 1, cli.stderr
    assert (tmp_path / "cli" / "kept.jsonl").read_bytes() == (reference / "kept.jsonl").read_bytes()
