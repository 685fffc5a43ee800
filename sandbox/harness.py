"""The in-process test harness: one fresh interpreter runs one program and its tests.

Compiled once per container by the runner and started for every run as `python3 -S -c
BOOTSTRAP CODE_FD NONCE_FD EVENTS_FD` (the bootstrap loads this module's marshalled code from
CODE_FD) in a fresh job directory holding `payload.bin` (marshal). It reports facts as JSON lines on EVENTS_FD (a pipe
the program's stdout never reaches), so nothing the program prints can pass for a result.

Why it is built this way:
- A pass is proven, not inferred from exit status 0: only after every test has run does the
  harness read the per-run nonce from NONCE_FD and write it in its final `done` event. A
  program that calls `os._exit(0)` or `sys.exit(0)` before the asserts, or prints a fake
  "all passed", never produces that event. (Code that deliberately reads the harness's file
  descriptors could forge it; the sandbox contains such code, the nonce defeats the common
  shortcuts. See docs/sandbox.md.)
- The tests arrive already rewritten and compiled by the runner (sandbox/runner.py): each
  `assert` calls back into the ledger below, which records its outcome and lets the later
  asserts run, so a failure names the assert and the values it compared.
- Builtins are snapshotted before the solution runs and compared after it and after the tests:
  a solution that rebinds `len`, `AssertionError` or `__builtins__` is reported as tampering.
  The entry point's return value is checked for objects of the solution's own classes that
  redefine `__eq__`/`__ne__`/`__bool__`/`__len__` (the "always equal" hack) and for
  `unittest.mock` objects.
- Start-up cost is most of a job's cost, so only builtin modules are imported up front;
  everything else (json, traceback, linecache, math) is imported on the path that needs it.

Modes (payload["mode"]):
- "script": the solution, then an assert script (HumanEval `check(candidate)`, MBPP asserts),
  in one namespace whose `__name__` is "solution" (so `if __name__ == "__main__":` demo code
  does not run, as in the HumanEval harness).
- "call": the solution, then `entry_point(*args, **kwargs)` per case, compared to `expected`
  with strict types (see `same_value`).
- "program": the solution as `__main__` reading stdin; the runner captures its stdout.

Only the standard library is used, and the code runs on Python 3.8+.
"""

import builtins
import marshal
import os
import sys

NONCE_FD = int(sys.argv[2])
EVENTS_FD = int(sys.argv[3])
MAX_FAILURE_EVENTS = 50
SHORT = 200
SOLUTION_FILE = "solution.py"
TESTS_FILE = "tests.py"
HELPER_PREFIX = "_sft_verify_"
SYMBOLS = {"Eq": "==", "NotEq": "!=", "Lt": "<", "LtE": "<=", "Gt": ">", "GtE": ">=",
           "Is": "is", "IsNot": "is not", "In": "in", "NotIn": "not in"}
COMPARISONS = {
    "Eq": lambda a, b: a == b, "NotEq": lambda a, b: a != b, "Lt": lambda a, b: a < b,
    "LtE": lambda a, b: a <= b, "Gt": lambda a, b: a > b, "GtE": lambda a, b: a >= b,
    "Is": lambda a, b: a is b, "IsNot": lambda a, b: a is not b,
    "In": lambda a, b: a in b, "NotIn": lambda a, b: a not in b,
}

# Bound once, before any user code runs, so a program that patches os or builtins cannot
# silence the harness.
_write = os.write
_read = os.read
_exit = os._exit
_BUILTINS = builtins
_dict_items = dict.items
_repr = repr
_str = str
_isinstance = isinstance
_sources = {}


# ---- reporting -----------------------------------------------------------------------------

JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def to_json(value):
    """A small JSON writer for our own events (str, int, float, bool, None, list, dict)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if _isinstance(value, (int, float)):
        return _repr(value) if value == value and value not in (float("inf"), float("-inf")) else "null"
    if _isinstance(value, _str):
        out = []
        for char in value:
            if char in JSON_ESCAPES:
                out.append(JSON_ESCAPES[char])
            elif char < " " or "\ud800" <= char <= "\udfff":
                out.append(f"\\u{ord(char):04x}")
            else:
                out.append(char)
        return '"' + "".join(out) + '"'
    if _isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    if _isinstance(value, dict):
        return "{" + ",".join(to_json(_str(key)) + ":" + to_json(item) for key, item in _dict_items(value)) + "}"
    return to_json(_str(value))


def emit(event):
    data = (to_json(event) + "\n").encode("utf-8", "replace")
    try:
        while data:
            written = _write(EVENTS_FD, data)
            data = data[written:]
    except OSError:
        pass


def short(value):
    """repr() of a value, cut to SHORT characters; never raises."""
    try:
        text = _repr(value)
    except BaseException as exc:  # a hostile __repr__ must not take the harness down
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    return text if len(text) <= SHORT else text[: SHORT - 3] + "..."


def str_of(exc):
    try:
        text = _str(exc)
    except BaseException:
        text = "<unprintable>"
    return text if len(text) <= 500 else text[:497] + "..."


def describe_exception(exc, where):
    """An `exception` event: type, message, and the innermost line of the solution or tests."""
    event = {"e": "exception", "where": where, "type": type(exc).__name__, "msg": str_of(exc)}
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in (SOLUTION_FILE, TESTS_FILE):
            event["file"], event["line"] = filename, tb.tb_lineno
        tb = tb.tb_next
    return event


def print_traceback(exc):
    """Python's own traceback on stderr, with the program's lines shown."""
    import linecache
    import traceback

    for filename, source in _sources.items():
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    except BaseException:
        pass


def syntax_event(exc, where):
    return {
        "e": "syntax_error", "where": where, "msg": getattr(exc, "msg", None) or _str(exc),
        "line": getattr(exc, "lineno", None), "offset": getattr(exc, "offset", None),
        "text": (getattr(exc, "text", None) or "").strip()[:SHORT],
    }


def exit_status(exc):
    """The process exit status a SystemExit would have produced."""
    code = exc.code
    if code is None:
        return 0
    if _isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(_str(code) + "\n")
    except BaseException:
        pass
    return 1


def flush_streams():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


def finish(status, **facts):
    """Write the proof of completion (the nonce, read only now) and leave without atexit hooks."""
    flush_streams()
    try:
        nonce = _read(NONCE_FD, 256).decode("ascii", "replace")
    except OSError:
        nonce = ""
    facts.update({"e": "done", "nonce": nonce, "status": status})
    emit(facts)
    _exit(status)


# ---- tampering -----------------------------------------------------------------------------

_MISSING = object()


def builtins_snapshot():
    return dict(_dict_items(vars(_BUILTINS)))


def tampered_names(snapshot, namespace):
    """Builtins the program rebound, added or deleted, and a replaced `__builtins__`."""
    current = vars(_BUILTINS)
    changed = [name for name, value in _dict_items(snapshot) if current.get(name, _MISSING) is not value]
    changed += [name for name in current if name not in snapshot]
    if namespace.get("__builtins__") is not _BUILTINS:
        changed.append("__builtins__")
    return sorted(set(changed))


def check_tampering(snapshot, namespace, when):
    names = tampered_names(snapshot, namespace)
    if names:
        emit({"e": "tamper", "when": when, "what": "rebound builtins: " + ", ".join(names[:10])})
        return True
    return False


def suspicious_value(value, solution_name, budget=10000):
    """Name the first object in `value` that could fake equality or truth, else None."""
    stack, seen = [value], 0
    while stack and seen < budget:
        item = stack.pop()
        seen += 1
        kind = type(item)
        module = getattr(kind, "__module__", "") or ""
        if module.startswith("unittest.mock"):
            return f"a unittest.mock object ({kind.__name__})"
        for klass in kind.__mro__:
            if getattr(klass, "__module__", None) == solution_name:
                overrides = [name for name in ("__eq__", "__ne__", "__bool__", "__len__") if name in vars(klass)]
                if overrides:
                    return "an object of the solution's class {} that defines {}".format(kind.__name__, ", ".join(overrides))
        if kind in (list, tuple, set, frozenset):
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
    return None


def guard_entry_point(namespace, entry_point):
    """Wrap the entry point: the outermost call's result is checked for equality fakes."""
    function = namespace.get(entry_point) if entry_point else None
    if not callable(function):
        return
    solution_name = namespace["__name__"]
    state = {"depth": 0, "reported": False}

    def guarded(*args, **kwargs):
        state["depth"] += 1
        try:
            result = function(*args, **kwargs)
        finally:
            state["depth"] -= 1
        if state["depth"] == 0 and not state["reported"]:
            problem = suspicious_value(result, solution_name)
            if problem:
                state["reported"] = True
                emit({"e": "tamper", "when": "tests", "what": "returned " + problem})
        return result

    for attribute in ("__name__", "__qualname__", "__doc__", "__module__"):
        try:
            setattr(guarded, attribute, getattr(function, attribute))
        except (AttributeError, TypeError):
            pass
    guarded.__wrapped__ = function
    namespace[entry_point] = guarded


# ---- assert bookkeeping --------------------------------------------------------------------


class AssertLedger:
    """Counts per assert site; reports each site's first failure as it happens."""

    def __init__(self, sites):
        self.sites = sites
        self.passed = [0] * len(sites)
        self.failed = [0] * len(sites)
        self.reported = 0

    def helpers(self):
        return {
            HELPER_PREFIX + "compare": self.compare,
            HELPER_PREFIX + "truth": self.truth,
            HELPER_PREFIX + "raised": self.raised,
        }

    def compare(self, site, op, left, right, msg=None):
        if COMPARISONS[op](left, right):
            self.passed[site] += 1
            return
        detail = f"left side {short(left)}, right side {short(right)}"
        self.fail(site, "compare", detail, msg, op=SYMBOLS[op])

    def truth(self, site, value, msg=None):
        if value:
            self.passed[site] += 1
            return
        self.fail(site, "false", f"the asserted expression was {short(value)}", msg)

    def raised(self, site, exc):
        event = describe_exception(exc, "assert")
        detail = "raised {}: {}".format(event["type"], event["msg"])
        self.fail(site, "raised", detail, None, exc_type=event["type"], exc_line=event.get("line"),
                  exc_file=event.get("file"))

    def fail(self, site, kind, detail, msg, **extra):
        self.failed[site] += 1
        if self.failed[site] > 1 or self.reported >= MAX_FAILURE_EVENTS:
            return
        self.reported += 1
        line, text = self.sites[site]
        event = {"e": "assert", "site": site, "line": line, "text": text, "kind": kind, "detail": detail}
        event.update(extra)
        if msg is not None:
            try:
                event["msg"] = short(msg())
            except BaseException as exc:
                event["msg"] = f"<message raised {type(exc).__name__}>"
        emit(event)

    def summary(self):
        return {
            "asserts_passed": sum(self.passed),
            "asserts_failed": sum(self.failed),
            "sites": [[line, self.passed[i], self.failed[i]] for i, (line, _) in enumerate(self.sites)],
        }


# ---- call-based cases ----------------------------------------------------------------------


def key_text(key):
    """How json.dumps writes a dict key, so Python keys compare with JSON object keys."""
    if _isinstance(key, _str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if type(key) in (int, float):
        return _repr(key)
    return None


def same_value(expected, got):
    """Strict comparison of a JSON `expected` with a returned value; (equal, why not).

    Types must match JSON's: bool is not an int, a number is int or float (floats compared
    with math.isclose, rel and abs tolerance 1e-9), a list matches a list or tuple, an
    object matches a dict (or a collections subclass of it) whose keys are written as JSON
    writes them. Objects of other types never match, so no custom __eq__ can fake a pass.
    """
    kind = type(got)
    if expected is None or _isinstance(expected, bool):
        return (kind is type(expected) and got == expected), None
    if type(expected) in (int, float):
        if kind not in (int, float):
            return False, f"expected a number, got {kind.__name__}"
        if type(expected) is int and kind is int:
            return got == expected, None
        import math

        return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9), None
    if _isinstance(expected, _str):
        return (kind is _str and got == expected), None if kind is _str else f"expected a str, got {kind.__name__}"
    if _isinstance(expected, list):
        if kind not in (list, tuple):
            return False, f"expected a list, got {kind.__name__}"
        if len(got) != len(expected):
            return False, f"expected {len(expected)} items, got {len(got)}"
        for index, want in enumerate(expected):  # not zip(strict=): this file runs on Python 3.8
            have = got[index]
            equal, why = same_value(want, have)
            if not equal:
                return False, "item {}: {}".format(index, why or f"{short(have)} != {short(want)}")
        return True, None
    if _isinstance(expected, dict):
        if not _isinstance(got, dict) or getattr(kind, "__module__", "") not in ("builtins", "collections"):
            return False, f"expected a dict, got {kind.__name__}"
        converted = {}
        for key, value in got.items():
            text = key_text(key)
            if text is None:
                return False, f"key {short(key)} cannot be a JSON object key"
            converted[text] = value
        if set(converted) != set(expected):
            return False, f"keys differ: expected {short(sorted(expected))}, got {short(sorted(converted))}"
        for key, want in expected.items():
            equal, why = same_value(want, converted[key])
            if not equal:
                return False, "key {}: {}".format(short(key), why or f"{short(converted[key])} != {short(want)}")
        return True, None
    return False, f"unsupported expected value {short(expected)}"


# ---- the modes -----------------------------------------------------------------------------


def compile_solution(source, where="solution"):
    _sources[SOLUTION_FILE] = source
    try:
        return compile(source, SOLUTION_FILE, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: source with null bytes
        emit(syntax_event(exc, where))
        return None


def run_code(code_object, namespace, where):
    """Execute the solution or the tests; report how they ended. True when they completed."""
    try:
        exec(code_object, namespace)
        return True
    except SystemExit as exc:
        emit({"e": "exit", "where": where, "code": exit_status(exc)})
    except MemoryError:
        emit({"e": "memory", "where": where})
    except BaseException as exc:
        emit(describe_exception(exc, where))
    return False


def new_namespace(name):
    return {"__name__": name, "__builtins__": _BUILTINS, "__file__": SOLUTION_FILE}


def load_solution(payload, name):
    """Compile and run the solution, then look for tampering; exit early on any problem."""
    namespace = new_namespace(name)
    solution = compile_solution(payload["code"])
    if solution is None:
        finish(1)
    snapshot = builtins_snapshot()
    if not run_code(solution, namespace, "solution") or check_tampering(snapshot, namespace, "solution"):
        finish(1)
    return namespace, snapshot


def run_script_mode(payload):
    if payload.get("tests_error"):
        emit(payload["tests_error"])
        finish(1)
    _sources[TESTS_FILE] = payload["tests"]
    tests = marshal.loads(payload["tests_code"])
    namespace, snapshot = load_solution(payload, "solution")
    ledger = AssertLedger([tuple(site) for site in payload["sites"]])
    entry_point = payload.get("entry_point")
    guard_entry_point(namespace, entry_point)
    namespace.update(ledger.helpers())
    completed = run_code(tests, namespace, "tests")
    if completed and not any(ledger.passed) and not any(ledger.failed):
        completed = call_uncalled_check(namespace, entry_point)
    check_tampering(snapshot, namespace, "tests")
    finish(0 if completed else 1, **ledger.summary())


def call_uncalled_check(namespace, entry_point):
    """HumanEval's raw `test` defines check(candidate) without calling it: call it."""
    check, candidate = namespace.get("check"), namespace.get(entry_point) if entry_point else None
    if not (callable(check) and callable(candidate)):
        return True
    emit({"e": "note", "msg": f"called check({entry_point}) since the tests define but never call it"})
    namespace[HELPER_PREFIX + "candidate"] = candidate
    return run_code(compile(f"check({HELPER_PREFIX}candidate)", TESTS_FILE, "exec"), namespace, "tests")


def run_call_mode(payload):
    import json

    namespace, snapshot = load_solution(payload, "solution")
    entry_point = payload["entry_point"]
    function = namespace.get(entry_point)
    if not callable(function):
        emit({"e": "missing_entry_point", "name": entry_point})
        finish(1)
    outcomes = []
    for index, case in enumerate(payload["cases"]):
        args, kwargs = json.loads(case["args"]), json.loads(case["kwargs"])
        expected = json.loads(case["expected"])
        try:
            got = function(*args, **kwargs)
        except SystemExit as exc:
            emit({"e": "exit", "where": "case", "case": index, "code": exit_status(exc)})
            finish(1, cases=outcomes)
        except MemoryError:
            emit({"e": "memory", "where": "case", "case": index})
            finish(1, cases=outcomes)
        except Exception as exc:
            event = describe_exception(exc, "case")
            event["case"] = index
            emit(event)
            outcomes.append("raised")
            continue
        equal, why = same_value(expected, got)
        outcomes.append("ok" if equal else "wrong")
        emit({"e": "case", "case": index, "ok": equal, "got": short(got), "why": why})
    check_tampering(snapshot, namespace, "tests")
    finish(0, cases=outcomes)


def run_program_mode(payload):
    namespace = new_namespace("__main__")
    sys.argv = [SOLUTION_FILE]
    program = compile_solution(payload["code"])
    if program is None:
        sys.stderr.write("SyntaxError: the program does not compile\n")
        finish(1)
    status = 0
    try:
        exec(program, namespace)
    except SystemExit as exc:
        status = exit_status(exc)
        if status:
            emit({"e": "exit", "where": "solution", "code": status})
    except MemoryError:
        sys.stderr.write("MemoryError\n")
        emit({"e": "memory", "where": "solution"})
        status = 1
    except BaseException as exc:
        print_traceback(exc)
        emit(describe_exception(exc, "solution"))
        status = 1
    wait_for_threads()
    run_atexit()
    finish(status)


def wait_for_threads():
    """Like interpreter shutdown: wait for the program's non-daemon threads."""
    threading = sys.modules.get("threading")
    if threading is None:
        return  # the program never imported threading, so it started no such thread
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            try:
                thread.join()
            except BaseException:
                pass


def run_atexit():
    import atexit

    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass


def apply_limits(limits):
    """rlimits first, before anything of the program is even read (see runner.limits)."""
    import resource

    os.umask(0o077)
    cpu = limits["cpu_s"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["address_space"], limits["address_space"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size"], limits["file_size"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.get("processes"):
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")  # the out-of-memory killer takes the program, not the runner
    except OSError:
        pass


class Quitter:
    """`exit()` and `quit()` as the site module defines them (the harness runs with -S)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"Use {self.name}() or Ctrl-D (i.e. EOF) to exit"

    def __call__(self, code=None):
        raise SystemExit(code)


def main():
    with open("payload.bin", "rb") as handle:
        payload = marshal.load(handle)
    apply_limits(payload["limits"])
    os.unlink("payload.bin")
    for name in ("exit", "quit"):
        if not hasattr(_BUILTINS, name):
            setattr(_BUILTINS, name, Quitter(name))
    sys.path[0] = os.getcwd()
    modes = {"script": run_script_mode, "call": run_call_mode, "program": run_program_mode}
    modes[payload["mode"]](payload)


main()
