"""Hostile programs in the real Docker sandbox, each followed by a normal program in the same pool.

The normal program is a probe: it must pass AND see a clean container (only PID 1 and itself,
nothing left in /tmp but its own job directory, /dev/shm empty), so a hostile job that left
anything behind fails the test. At the end nothing of ours may remain on the host.
"""

from __future__ import annotations

import os
import uuid

import pytest

from sandbox.engine import OWNER_LABEL, SANDBOX_LABEL, connect, owner_label
from sandbox.verifier import CodeVerifier
from verify.records import Record

pytestmark = pytest.mark.docker

ADD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"
PROBE_CODE = """
import os

def probe():
    return (sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
            sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')))
"""
PROBE_TESTS = """
pids, tmp, shm = probe()
assert len(pids) == 2 and pids[0] == 1, pids
assert len(tmp) == 1 and tmp[0].startswith('job-'), tmp
assert shm == [], shm
"""


def record(code: str) -> Record:
    return Record(id="t", line=1, messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": f"```python\n{code}\n```"}], checks={})


@pytest.fixture(scope="module")
def verifier():
    built = CodeVerifier({"pool_size": 1, "timeout_s": 1, "memory_mb": 128, "max_memory_mb": 256, "output_cap_kb": 256})
    yield built
    built.close()
    client = connect()
    mine = [c for c in client.api.containers(all=True, filters={"label": SANDBOX_LABEL}) if c["Labels"].get(OWNER_LABEL) == owner_label()]
    assert mine == [], "close() left sandbox containers behind"


def check(verifier, code, tests=ADD_TESTS, **spec):
    return verifier.verify(record(code), {"language": "python", "tests": tests, "entry_point": "add", **spec})


def assert_next_job_unaffected(verifier):
    verdict = check(verifier, PROBE_CODE, PROBE_TESTS)
    assert verdict.status == "pass", verdict.reason


HOSTILE = {
    "infinite_loop": ("while True:\n    pass\n" + ADD, "fail", "code.timeout"),
    "sleep": ("import time\ntime.sleep(60)\n" + ADD, "fail", "code.timeout"),
    "fork_bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n" + ADD, "fail", "code.timeout"),
    "memory_hog": ("blocks = []\nwhile True:\n    blocks.append(bytearray(16 << 20))\n" + ADD, "fail", "code.memory_limit"),
    "disk_fill": (
        "import itertools\nfor i in itertools.count():\n    open(f'/tmp/fill{i}', 'wb').write(b'x' * (4 << 20))\n" + ADD,
        "fail", "code.runtime_error",
    ),
    "shm_fill": (
        "import itertools\nfor i in itertools.count():\n    open(f'/dev/shm/fill{i}', 'wb').write(b'x' * (4 << 20))\n" + ADD,
        "fail", "code.runtime_error",
    ),
    "output_flood": ("import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n" + ADD, "fail", "code.output_limit"),
    "kill_pid1_and_parent": (
        "import os, signal\nfor target in (1, os.getppid()):\n    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGINT):\n"
        "        try:\n            os.kill(target, sig)\n        except OSError:\n            pass\n" + ADD,
        "pass", "code.pass",
    ),
    "background_process": (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(600)\n    os._exit(0)\n" + ADD,
        "pass", "code.pass",
    ),
    "os_exit_before_asserts": ("import os\n" + ADD + "os._exit(0)\n", "fail", "code.early_exit"),
    "sys_exit_before_asserts": ("import sys\n" + ADD + "sys.exit(0)\n", "fail", "code.early_exit"),
    "fake_all_passed": ("print('all tests passed')\nprint('OK')\ndef add(a, b):\n    return 0\n", "fail", "code.assertion_failed"),
    "rebind_builtins": ("import builtins\nbuiltins.AssertionError = ZeroDivisionError\n" + ADD, "fail", "code.tampered"),
    "always_equal": ("class Anything:\n    def __eq__(self, other):\n        return True\n\ndef add(a, b):\n    return Anything()\n", "fail", "code.tampered"),
    "network_socket": ("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)\n" + ADD, "fail", "code.runtime_error"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program_is_contained(verifier, name):
    code, status, reason_code = HOSTILE[name]
    verdict = check(verifier, code)
    assert (verdict.status, verdict.code) == (status, reason_code), verdict.reason
    assert_next_job_unaffected(verifier)


def test_memory_exceeded_is_not_a_timeout(verifier):
    # Several processes under the per-process address-space limit together exceed the
    # container's memory: the kernel's OOM killer steps in, and the verdict says memory.
    code = (
        "import os, time\n"
        "for _ in range(5):\n"
        "    if os.fork() == 0:\n"
        "        block = bytearray(200 << 20)\n"
        "        time.sleep(30)\n"
        "block = bytearray(150 << 20)\n"
        "time.sleep(30)\n" + ADD
    )
    verdict = check(verifier, code, memory_mb=256)
    assert (verdict.status, verdict.code) == ("fail", "code.memory_limit"), verdict.reason
    assert "out-of-memory killer" in verdict.reason
    assert_next_job_unaffected(verifier)


def test_host_files_are_not_visible(verifier, tmp_path):
    secret = tmp_path / f"secret-{uuid.uuid4().hex}.txt"
    secret.write_text("host secret")
    code = f"def add(a, b):\n    return len(open({str(secret)!r}).read()) * 0 + a + b\n"
    verdict = check(verifier, code)
    assert (verdict.status, verdict.code) == ("fail", "code.runtime_error")
    assert "FileNotFoundError" in verdict.reason
    repo_file = os.path.abspath(__file__)
    verdict = check(verifier, f"import os\nassert not os.path.exists({repo_file!r})\n" + ADD)
    assert verdict.status == "pass", verdict.reason
    assert_next_job_unaffected(verifier)


def test_root_filesystem_is_read_only_and_user_is_not_root(verifier):
    code = (
        "import os\n"
        "def add(a, b):\n"
        "    try:\n"
        "        open('/etc/evil', 'w')\n"
        "        writable = True\n"
        "    except OSError:\n"
        "        writable = False\n"
        "    assert not writable and os.getuid() != 0 and os.geteuid() != 0\n"
        "    return a + b\n"
    )
    verdict = check(verifier, code)
    assert verdict.status == "pass", verdict.reason


def test_no_container_logs_are_written(verifier):
    check(verifier, HOSTILE["output_flood"][0])
    client = connect()
    for container in client.api.containers(filters={"label": SANDBOX_LABEL}):
        info = client.api.inspect_container(container["Id"])
        if info["Config"]["Labels"].get(OWNER_LABEL) == owner_label():
            assert info["HostConfig"]["LogConfig"]["Type"] == "none"
            assert info["LogPath"] == ""
