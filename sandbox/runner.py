"""The job runner that lives inside each sandbox container (or, for `local-unsafe`, on the host).

It is started as `python3 -I -c <this file's text>` and is the container's PID 1. It speaks
JSON lines on stdin/stdout with the host: an `init` message, then one `job` at a time. For each
run of a job it starts a FRESH interpreter (the harness, `sandbox/harness.py`) in a fresh
directory with rlimits, enforces the time limits (CPU time, and the wall clock for programs
that wait; see RunClock), caps captured output, and afterwards
kills every leftover process and wipes the scratch space, then reports whether it is still
healthy. It decides nothing about pass or fail: it reports facts; the host classifies them.

Why these choices:
- A fresh interpreter per run (not a fork of a warm one) so no state leaks between programs.
- PID 1 can `kill(-1, SIGKILL)` every other process in the container's PID namespace, which
  catches daemonised and `setsid` leftovers a process-group kill would miss. Outside a
  container the runner makes itself a child subreaper and kills its descendants instead,
  never `kill(-1)`, which on a host would hit the user's own processes.
- The runner makes itself non-dumpable, so a job running under the same uid cannot ptrace it
  or open `/proc/1/fd/*` to forge protocol replies.
- Signals sent to PID 1 from inside its namespace are dropped unless a handler is installed,
  so the runner installs none (SIGINT is ignored): a job cannot kill its supervisor.

Only the standard library is used, and the code runs on Python 3.8+ (Debian bookworm's 3.11,
any python:3.x-slim image).
"""

import ast
import fcntl
import json
import marshal
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import time

PROTOCOL = 1
# What the fresh interpreter runs: the harness's code object, read from a pipe (argv[1]).
BOOTSTRAP = (
    "import marshal, os, sys\n"
    "fd = int(sys.argv[1])\n"
    "exec(marshal.loads(b''.join(iter(lambda: os.read(fd, 1 << 16), b''))))\n"
)
PIPE_DEFAULT_SIZE = 65536
F_SETPIPE_SZ = 1031
READ_CHUNK = 65536
CPU_CHECK_INTERVAL = 0.02
LOCAL_CHECK_INTERVAL = 0.1  # outside a container, finding the job's processes scans all of /proc
WANTED_CPU_SHARE = 0.5  # past the wall limit, a run that wanted the CPU less than this is waiting
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
EVENTS_CAP = 1 << 20
STDERR_TAIL = 4096
FILE_SIZE_LIMIT = 16 << 20
OPEN_FILES_LIMIT = 256
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
HELPER_PREFIX = "_sft_verify_"  # must match sandbox/harness.py
TESTS_FILE = "tests.py"
CHILD_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
}


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def prctl(option, value):
    """Call prctl(2) through ctypes; False when ctypes or the call is unavailable."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except Exception:
        return False


class Runner:
    def __init__(self, init):
        # Compiled once here: compiling the harness source costs a fresh interpreter several
        # milliseconds per run, loading its marshalled code object a fraction of one.
        self.harness_code = marshal.dumps(compile(init["harness"], "sandbox-harness", "exec", dont_inherit=True))
        self.python = init.get("python") or sys.executable or "python3"
        self.workspace = init["workspace"]
        self.wipe_dirs = list(init.get("wipe", [self.workspace]))
        self.nproc_limit = init.get("nproc_limit")
        self.is_init = os.getpid() == 1
        self.counter = 0
        self.oom_file = self.find_oom_counter()

    # ---- facts about the environment -------------------------------------------------------

    @staticmethod
    def find_oom_counter():
        """The cgroup file whose `oom_kill` line counts OOM kills in this container, if any."""
        for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
            if os.path.exists(path) and Runner.read_oom_kills(path) is not None:
                return path
        return None

    @staticmethod
    def read_oom_kills(path):
        try:
            with open(path) as handle:
                for line in handle:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            return None
        return None

    def oom_kills(self):
        return self.read_oom_kills(self.oom_file) if self.oom_file else None

    def stdlib_report(self):
        missing = []
        for name in ("json", "decimal", "fractions", "ctypes", "sqlite3", "collections", "heapq"):
            try:
                __import__(name)
            except ImportError:
                missing.append(name)
        return missing

    def hello(self):
        return {
            "op": "ready",
            "protocol": PROTOCOL,
            "python": sys.version.split()[0],
            "pid": os.getpid(),
            "uid": os.getuid(),
            "pid1": self.is_init,
            "oom_counter": self.oom_file,
            "missing_stdlib": self.stdlib_report(),
        }

    # ---- one job ---------------------------------------------------------------------------

    def run_job(self, job):
        before = os.times()
        results, problems = [], []
        for index, run in enumerate(job["runs"]):
            result = self.run_once(job, run, index)
            results.append(result)
            problems = self.clean_up()
            if problems or (result["timed_out"] and job.get("stop_after_timeout", True)):
                break
        after = os.times()
        # CPU of everything the job cost in here: the runner's own work and every process it reaped.
        job_cpu = sum(after[i] - before[i] for i in range(4))
        return {"op": "result", "id": job["id"], "runs": results, "healthy": not problems, "problems": problems,
                "job_cpu_s": round(job_cpu, 6)}

    def limits(self, timeout_s, memory_mb):
        """The rlimits the harness applies to itself before it reads the program.

        Applying them first thing in the child, rather than in a preexec_fn, lets
        subprocess spawn with vfork: a preexec_fn forces a full fork of the runner.
        """
        return {
            "cpu_s": int(math.ceil(timeout_s)) + 1,  # a backstop; the runner measures CPU time itself
            "address_space": int(memory_mb) << 20,
            "file_size": FILE_SIZE_LIMIT,
            "open_files": OPEN_FILES_LIMIT,
            "processes": self.nproc_limit,
        }

    def run_once(self, job, run, index):
        self.counter += 1
        directory = os.path.join(self.workspace, f"job-{self.counter}-{index}")
        os.mkdir(directory, 0o700)
        with open(os.path.join(directory, "payload.bin"), "wb") as handle:
            payload = prepare_payload(run["payload"])
            payload["limits"] = self.limits(job["timeout_s"], job["memory_mb"])
            marshal.dump(payload, handle)
        stdin_path = os.path.join(directory, "stdin.txt")
        with open(stdin_path, "wb") as handle:
            handle.write(run.get("stdin", "").encode("utf-8"))
        code_read = self.pipe_with(self.harness_code)
        nonce_read = self.pipe_with(run["nonce"].encode("ascii"))
        events_read, events_write = os.pipe()
        env = dict(CHILD_ENV, HOME=directory, TMPDIR=directory)
        oom_before = self.oom_kills()
        started = time.monotonic()
        try:
            with open(stdin_path, "rb") as stdin:
                child = subprocess.Popen(
                    [self.python, "-S", "-c", BOOTSTRAP, str(code_read), str(nonce_read), str(events_write)],
                    cwd=directory,
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=(code_read, nonce_read, events_write),
                    env=env,
                    start_new_session=True,
                )
        except OSError as exc:
            for fd in (code_read, nonce_read, events_read, events_write):
                os.close(fd)
            return self.spawn_failure(exc, started)
        for fd in (code_read, nonce_read, events_write):
            os.close(fd)
        facts = self.supervise(child, events_read, job, started)
        oom_after = self.oom_kills()
        facts["oom_killed"] = bool(oom_before is not None and oom_after is not None and oom_after > oom_before)
        return facts

    @staticmethod
    def pipe_with(data):
        """A pipe already holding `data` with its write end closed; returns the read end."""
        read_end, write_end = os.pipe()
        if len(data) > PIPE_DEFAULT_SIZE:
            fcntl.fcntl(write_end, F_SETPIPE_SZ, len(data))
        os.write(write_end, data)
        os.close(write_end)
        return read_end

    def spawn_failure(self, exc, started):
        return {
            "spawned": False, "spawn_error": f"{type(exc).__name__}: {exc}",
            "exit_code": None, "signal": None, "timed_out": None, "output_exceeded": None,
            "stdout": "", "stdout_bytes": 0, "stderr_tail": "", "events": [],
            "wall_s": time.monotonic() - started, "cpu_s": 0.0, "max_rss_kb": 0,
        }

    def supervise(self, child, events_read, job, started):
        """Read the child's output until it exits or breaks a limit; return the run's facts."""
        clock = RunClock(job, started, self.other_processes, CPU_CHECK_INTERVAL if self.is_init else LOCAL_CHECK_INTERVAL)
        output_cap = int(job["output_cap"])
        keep_stdout = bool(job.get("keep_stdout", True))
        streams = {child.stdout.fileno(): "stdout", child.stderr.fileno(): "stderr", events_read: "events"}
        caps = {"stdout": output_cap, "stderr": output_cap, "events": EVENTS_CAP}
        kept = {"stdout": bytearray(), "stderr": bytearray(), "events": bytearray()}
        total = {"stdout": 0, "stderr": 0, "events": 0}
        timed_out = None  # "cpu", "wall" or "starved" once a limit is hit
        exceeded = None
        status = None
        rusage = None
        exited_at = None
        while streams:
            now = time.monotonic()
            if status is None:
                pid, raw_status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    status, rusage, exited_at = raw_status, usage, now
            if status is not None and now - exited_at > 0.2:
                break  # the child is gone; whatever still holds its pipes is a leftover
            if status is None:
                timed_out = clock.limit_hit(now)
                if timed_out:
                    break
            wait = 0.05 if status is not None else min(0.05, clock.until_next_check(now))
            ready, _, _ = select.select(list(streams), [], [], wait)
            for fd in ready:
                name = streams[fd]
                data = os.read(fd, READ_CHUNK)
                if not data:
                    del streams[fd]
                    continue
                total[name] += len(data)
                room = caps[name] - len(kept[name])
                if room > 0 and (name != "stdout" or keep_stdout):
                    kept[name] += data[:room]
                if total[name] > caps[name] and name != "events" and exceeded is None:
                    exceeded = name
            if exceeded:
                break
            if status is not None and not streams:
                break
        if status is None:
            self.kill_job(child.pid)
            _, raw_status, usage = os.wait4(child.pid, 0)
            status, rusage = raw_status, usage
        child.returncode = 0  # reaped with wait4 above; keep Popen from waiting again
        child.stdout.close()
        child.stderr.close()
        os.close(events_read)
        return {
            "spawned": True,
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "timed_out": timed_out,
            "output_exceeded": exceeded,
            "stdout": bytes(kept["stdout"]).decode("utf-8", "replace"),
            "stdout_bytes": total["stdout"],
            "stderr_tail": bytes(kept["stderr"][-STDERR_TAIL:]).decode("utf-8", "replace"),
            "events": parse_events(bytes(kept["events"])),
            "wall_s": round(time.monotonic() - started, 6),
            "cpu_s": round(rusage.ru_utime + rusage.ru_stime, 6) if rusage else 0.0,
            "max_rss_kb": rusage.ru_maxrss if rusage else 0,
        }

    # ---- cleaning up after a run -----------------------------------------------------------

    def kill_job(self, pid):
        """Kill the job's process group at once (the rest goes in clean_up)."""
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass

    def clean_up(self):
        """Kill every leftover process and wipe scratch space; return the problems left."""
        problems = []
        survivors = self.kill_leftovers()
        if survivors:
            problems.append(f"{survivors} processes survived SIGKILL")
        for directory in self.wipe_dirs:
            problems.extend(wipe(directory))
        return problems

    def kill_leftovers(self):
        """SIGKILL every process but ourselves until none is left; return how many remain."""
        for _ in range(200):
            targets = self.other_processes()
            if not targets:
                return 0
            if self.is_init:
                try:
                    os.kill(-1, signal.SIGKILL)
                except OSError:
                    pass
            else:
                for pid in targets:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            self.reap()
            time.sleep(0.002)
        return len(self.other_processes())

    def other_processes(self):
        """Pids to kill: everything else in our PID namespace (PID 1), else our descendants."""
        if self.is_init:
            me = os.getpid()
            return [pid for pid in process_parents() if pid != me]
        return descendants(os.getpid())

    @staticmethod
    def reap():
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return


# ---- preparing assert scripts ------------------------------------------------------------
# The tests are rewritten and compiled here, once per container start of `ast`, rather than
# in every job's fresh interpreter: importing ast would cost each job several milliseconds.
# The code object is handed over with marshal, which is safe across processes of the same
# interpreter (it is the .pyc format).

class AssertRewriter(ast.NodeTransformer):
    """Turn `assert TEST, MSG` into a guarded call that records the outcome and goes on:

        try:
            _sft_verify_compare(SITE, "Eq", LEFT, RIGHT, msg=lambda: MSG)   # or _truth(SITE, TEST)
        except MemoryError:
            raise
        except Exception as _sft_verify_exc:
            _sft_verify_raised(SITE, _sft_verify_exc)
    """

    def __init__(self, source):
        self.lines = source.splitlines()
        self.sites = []

    def visit_Assert(self, node):
        site = len(self.sites)
        text = " ".join(" ".join(self.lines[node.lineno - 1 : node.end_lineno]).split())
        self.sites.append((node.lineno, text[:200] or "assert ..."))
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            call = helper_call("compare", [ast.Constant(site), ast.Constant(type(test.ops[0]).__name__), test.left, test.comparators[0]])
        else:
            call = helper_call("truth", [ast.Constant(site), test])
        if node.msg is not None:
            no_arguments = ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
            call.keywords.append(ast.keyword(arg="msg", value=ast.Lambda(args=no_arguments, body=node.msg)))
        caught = HELPER_PREFIX + "exc"
        guard = ast.Try(
            body=[ast.Expr(call)],
            handlers=[
                ast.ExceptHandler(type=ast.Name("MemoryError", ast.Load()), name=None, body=[ast.Raise(exc=None, cause=None)]),
                ast.ExceptHandler(
                    type=ast.Name("Exception", ast.Load()), name=caught,
                    body=[ast.Expr(helper_call("raised", [ast.Constant(site), ast.Name(caught, ast.Load())]))],
                ),
            ],
            orelse=[],
            finalbody=[],
        )
        return ast.copy_location(guard, node)  # the rest takes the assert's place via fix_missing_locations


def helper_call(name, args):
    return ast.Call(func=ast.Name(id=HELPER_PREFIX + name, ctx=ast.Load()), args=args, keywords=[])


PREPARED_CACHE = {}
PREPARED_CACHE_SIZE = 256  # samples of one prompt share their tests


def prepare_payload(payload):
    """Add the compiled, assert-rewritten tests to a script-mode payload (cached by source)."""
    if payload.get("mode") != "script":
        return payload
    source = payload["tests"]
    prepared = PREPARED_CACHE.get(source)
    if prepared is None:
        prepared = prepare_tests(source)
        if len(PREPARED_CACHE) >= PREPARED_CACHE_SIZE:
            PREPARED_CACHE.pop(next(iter(PREPARED_CACHE)))
        PREPARED_CACHE[source] = prepared
    return dict(payload, **prepared)


def prepare_tests(source):
    try:
        tree = ast.parse(source, TESTS_FILE)
        rewriter = AssertRewriter(source)
        tree = ast.fix_missing_locations(rewriter.visit(tree))
        return {"tests_code": marshal.dumps(compile(tree, TESTS_FILE, "exec", dont_inherit=True)), "sites": rewriter.sites}
    except (SyntaxError, ValueError) as exc:
        return {"tests_error": {
            "e": "syntax_error", "where": "tests", "msg": getattr(exc, "msg", None) or str(exc),
            "line": getattr(exc, "lineno", None), "offset": getattr(exc, "offset", None),
            "text": (getattr(exc, "text", None) or "").strip()[:200],
        }}
    except RecursionError:
        return {"tests_error": {"e": "syntax_error", "where": "tests", "msg": "too deeply nested to compile",
                                "line": None, "offset": None, "text": ""}}


class RunClock:
    """When to stop a run. CPU time decides (timeout_s), so a busy machine does not turn a
    slow-but-correct program into a timeout. The wall clock (wall_timeout_s) stops programs
    that wait (sleep, block on a pipe) instead of computing. A program that wanted the CPU
    but did not get it (runnable, starved by other load) is given time until max_wall_s, and
    then reported as "starved": the host's verdict is then `error`, not a timeout.

    The job is every process the run started (`job_pids`), so a program cannot dodge the CPU
    limit by computing in children, and a fork bomb starving its own parent is a timeout.
    """

    def __init__(self, job, started, job_pids, interval):
        self.cpu_limit = float(job["timeout_s"])
        self.started = started
        self.soft_deadline = started + float(job["wall_timeout_s"])
        self.hard_deadline = started + float(job["max_wall_s"])
        self.job_pids = job_pids
        self.interval = interval
        self.next_cpu_check = started

    def limit_hit(self, now):
        if now >= self.next_cpu_check:
            self.next_cpu_check = now + self.interval
            if sum(cpu_seconds(pid) for pid in self.job_pids()) > self.cpu_limit:
                return "cpu"
        if now < self.soft_deadline:
            return None
        if sum(demand_seconds(pid) for pid in self.job_pids()) < WANTED_CPU_SHARE * (now - self.started):
            return "wall"
        if now >= self.hard_deadline:
            return "starved"
        self.soft_deadline = now + 0.25
        return None

    def until_next_check(self, now):
        return max(0.0, min(self.soft_deadline, self.next_cpu_check) - now)


def demand_seconds(pid):
    """Time the process's threads ran or waited to run (schedstat), i.e. wanted the CPU."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                on_cpu, waiting = handle.read().split()[:2]
            total += int(on_cpu) + int(waiting)
        except (OSError, ValueError):
            continue
    return total / 1e9


def cpu_seconds(pid):
    """CPU time of a live process and its reaped children, from /proc (0.0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2:].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def process_parents():
    """{pid: parent pid} for every process visible in /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
    return parents


def descendants(root):
    """Every process below `root` in the process tree, sorted."""
    parents = process_parents()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier and pid not in found}
        found |= frontier
    return sorted(found)


def wipe(directory):
    """Delete everything inside `directory` (not the directory itself); return problems."""
    problems = []
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return problems
    except OSError as exc:
        return [f"cannot list {directory}: {exc}"]
    for entry in entries:
        path = os.path.join(directory, entry)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                make_writable(path)
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError as exc:
            problems.append(f"cannot remove {path}: {exc}")
    return problems


def make_writable(top):
    """A job may chmod its directories to 0; give them back to their owner before deleting."""
    for root, dirs, _ in os.walk(top):
        for name in dirs:
            try:
                os.chmod(os.path.join(root, name), 0o700)
            except OSError:
                pass
    try:
        os.chmod(top, 0o700)
    except OSError:
        pass


def parse_events(data):
    events = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def main():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    prctl(PR_SET_DUMPABLE, 0)
    if os.getpid() != 1:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    line = sys.stdin.readline()
    if not line:
        return 0
    runner = Runner(json.loads(line))
    send(runner.hello())
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        if job.get("op") == "exit":
            break
        try:
            reply = runner.run_job(job)
        except Exception as exc:  # report, then let the host recycle us
            reply = {"op": "result", "id": job.get("id"), "runs": [], "healthy": False,
                     "problems": [f"runner crashed: {type(exc).__name__}: {exc}"]}
        send(reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
