"""Items that share one jail (a server with one worker) cannot reach each other.

Through ``POST /score`` (verifier ``code``) and ``/run_code`` on a real server:
no program finds an earlier request's hidden tests in its memory, signals or
stops the jail's own processes, leaves files or IPC objects for the next item,
or uses more memory than its limit in any language. Each case once passed on
the server it guards (a leak, a stopped zygote, a surviving directory or
message queue, a 1.5 GiB node program judged correct).
"""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import Server, start_server, stop_server

CONTAINED = "contained"
ENV = {
    "REFEREE_ITEM_TIMEOUT_S": "3",
    "REFEREE_HARD_GRACE_S": "1",
    "REFEREE_WORKER_MEMORY_LIMIT_MB": "1024",
    "REFEREE_MAX_MEMORY_MB": "512",
    "REFEREE_MAX_ITEM_TIMEOUT_S": "60",
}
PROBE = """\
def attack():
{body}


try:
    got = attack()
except Exception:
    got = None
print("contained" if not got else "ESCAPED " + repr(got)[:300])
"""


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One worker: consecutive items run in the same jail."""
    srv = start_server(tmp_path_factory.mktemp("isolation"), ENV, workers=1)
    yield srv
    stop_server(srv)


@pytest.fixture
def client(lone: Server) -> Iterator[httpx.Client]:
    with lone.client() as c:
        yield c


def probe(body: str) -> str:
    return PROBE.format(body=textwrap.indent(textwrap.dedent(body).strip(), "    "))


def io_item(
    source: str, *, lang: str = "python", stdin: str = "", stdout: str = CONTAINED, **ref: Any
) -> dict[str, Any]:
    return {
        "response": f"```{lang}\n{textwrap.dedent(source).strip()}\n```",
        "reference": {
            "language": lang,
            "tests": [{"stdin": stdin, "stdout": stdout}],
            "time_limit_s": 5,
            **ref,
        },
    }


def score(client: httpx.Client, *items: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post("/score", json={"verifier": "code", "items": list(items)})
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def judged(result: dict[str, Any]) -> tuple[str, str | None]:
    return result["status"], result.get("outcome")


def honest_call_item() -> dict[str, Any]:
    source = f"# {uuid.uuid4()}\ndef add(a, b):\n    return a + b"
    return {
        "response": f"```python\n{source}\n```",
        "reference": {"language": "python", "fn_name": "add", "inputs": [[1, 2]], "outputs": [3]},
    }


def honest_io_item(lang: str = "python", **ref: Any) -> dict[str, Any]:
    source = {
        "python": f"# {uuid.uuid4()}\na, b = map(int, input().split())\nprint(a + b)",
        "javascript": f"// {uuid.uuid4()}\n"
        "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(' ').map(Number);\n"
        "console.log(a + b);",
    }[lang]
    return io_item(source, lang=lang, stdin="1 2\n", stdout="3\n", **ref)


# -- hole: hidden tests of earlier requests in a candidate's memory ------------------------------

# Reads every writable anonymous mapping of its own memory (heap, malloc and pymalloc
# arenas) and reports each marker it finds.
# The pattern is built so that the program's own text never holds a whole marker.
SCAN_MEMORY = r"""
import ctypes, re
pattern = re.compile(b"referee" + b"-marker-" + b"[0-9a-f]{32}")
found = set()
with open("/proc/self/maps") as maps:
    for line in maps:
        fields = line.split()
        span, perms, path = fields[0], fields[1], (fields[5:] or [""])[0]
        if not perms.startswith("rw") or path not in ("", "[heap]"):
            continue
        start, end = (int(x, 16) for x in span.split("-"))
        if end - start > 1 << 30:
            continue
        found.update(m.decode() for m in pattern.findall(ctypes.string_at(start, end - start)))
"""


def _secret_items(markers: list[str]) -> list[dict[str, Any]]:
    """Items whose hidden tests (stdin, expected output, test_code) hold the markers."""
    stdin_marker, stdout_marker, test_marker, output_marker = markers
    nonce = f"# {uuid.uuid4()}\n"  # no cache hit: every copy reaches the jail
    return [
        io_item(nonce + "print(input())", stdin=f"{stdin_marker}\n", stdout=f"{stdout_marker}\n"),
        {
            "response": f"```python\n{nonce}def f(x):\n    return x\n```",
            "reference": {
                "language": "python",
                "entry_point": "f",
                "test_code": f"def check(f):\n    assert f(1) == 1, {test_marker!r}\n",
            },
        },
        {
            "response": f"```python\n{nonce}def g(x):\n    return 0\n```",
            "reference": {
                "language": "python",
                "fn_name": "g",
                "inputs": [[1]],
                "outputs": [output_marker],
            },
        },
    ]


@pytest.mark.parametrize("form", ["stdin-stdout", "function-call"])
def test_no_candidate_finds_earlier_hidden_tests_in_its_memory(
    client: httpx.Client, form: str
) -> None:
    markers = [f"referee-marker-{uuid.uuid4().hex}" for _ in range(4)]
    for _ in range(2):  # more than one: what was freed is more likely still in memory
        results = score(client, *_secret_items(markers))
        assert [judged(r)[0] for r in results] == ["ok"] * 3, results
    if form == "stdin-stdout":
        scanner = io_item(
            SCAN_MEMORY + 'print("contained" if not found else "ESCAPED " + " ".join(found))'
        )
    else:
        source = "def leak(x):\n" + textwrap.indent(SCAN_MEMORY, "    ")
        source += "\n    return sorted(found)\n"
        scanner = {
            "response": f"```python\n{source}\n```",
            "reference": {
                "language": "python",
                "fn_name": "leak",
                "inputs": [[0]],
                "outputs": [[]],
            },
        }
    r = client.post("/score", json={"verifier": "code", "items": [scanner]})
    assert r.status_code == 200, r.text
    for marker in markers:
        assert marker not in r.text, r.text
    assert judged(r.json()["results"][0]) == ("ok", "correct"), r.text


# -- hole: signals to the jail's own processes ---------------------------------------------------

# Every way to signal another process of the jail (the fork server, the zygote):
# pids with bits above 32, thread-directed and queued signals, SIGIO ownership.
SIGNAL_OTHERS = """
import ctypes, fcntl, os, signal
libc = ctypes.CDLL(None, use_errno=True)
nr = {
    "x86_64": {"kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129,
               "rt_tgsigqueueinfo": 297},
    "aarch64": {"kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138,
                "rt_tgsigqueueinfo": 240},
}[os.uname().machine]
me = os.getpid()
def is_zygote(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"zygote" in f.read()
    except OSError:
        return False
# The fork server (pid 1), the process that forked this one, the zygote.
found = {int(p) for p in os.listdir("/proc") if p.isdigit() and is_zygote(p)}
others = sorted(({1, os.getppid()} | found) - {me})
done = []
info = (ctypes.c_byte * 128)()
for pid in others:
    wide = ctypes.c_long((1 << 32) + pid)
    stop = signal.SIGSTOP
    calls = {
        "kill": (nr["kill"], wide, stop),
        "tkill": (nr["tkill"], wide, stop),
        "tgkill": (nr["tgkill"], wide, ctypes.c_long(pid), stop),
        "rt_sigqueueinfo": (nr["rt_sigqueueinfo"], wide, stop, info),
        "rt_tgsigqueueinfo": (nr["rt_tgsigqueueinfo"], wide, ctypes.c_long(pid), stop, info),
    }
    for name, args in calls.items():
        if libc.syscall(*args) == 0:
            done.append((name, pid))
    r, w = os.pipe()
    try:
        fcntl.fcntl(r, fcntl.F_SETOWN, pid)
        fcntl.fcntl(r, 10, stop)  # F_SETSIG
        fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
        os.write(w, b"x")
        done.append(("F_SETOWN", pid))
    except OSError:
        pass
    for who in (pid, -pid):
        try:
            fcntl.ioctl(r, 0x8901, ctypes.c_int(who))  # FIOSETOWN
            done.append(("FIOSETOWN", who))
        except OSError:
            pass
    for call in (
        lambda: os.sched_setaffinity(pid, {0}),
        lambda: os.setpriority(os.PRIO_PROCESS, pid, 19),
        lambda: os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0)),
    ):
        try:
            call()
            done.append(("sched", pid))
        except OSError:
            pass
return done
"""


def test_no_program_signals_or_stops_the_jail(client: httpx.Client) -> None:
    for hostile in (io_item(probe(SIGNAL_OTHERS)), _call_probe(SIGNAL_OTHERS)):
        (result,) = score(client, hostile)
        assert judged(result) == ("ok", "correct"), json.dumps(result)
        # The next innocent items, in the same jail, are judged as usual.
        results = score(client, honest_call_item(), honest_io_item())
        assert [judged(r) for r in results] == [("ok", "correct")] * 2, results


def _call_probe(body: str) -> dict[str, Any]:
    source = "def attack(x):\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ")
    return {
        "response": f"```python\n{source}\n```",
        "reference": {"language": "python", "fn_name": "attack", "inputs": [[0]], "outputs": [[]]},
    }


# -- hole: state that survives the cleanup between items -----------------------------------------

LOCKED_DIRS = """
import os
os.makedirs("/tmp/locked/inner", exist_ok=True)
with open("/tmp/locked/inner/left.txt", "w") as f:
    f.write("from the previous item")
os.makedirs("/tmp/blind/x", exist_ok=True)
os.chmod("/tmp/locked/inner", 0o500)
os.chmod("/tmp/locked", 0o500)
os.chmod("/tmp/blind", 0)
os.makedirs("left-in-workdir/sub", exist_ok=True)
os.chmod("left-in-workdir", 0o500)
return None
"""
LEFT_IN_TMP = """
import os
mine = os.path.basename(os.getcwd())
left = []
for root, dirs, files in os.walk("/tmp"):
    names = [n for n in dirs + files if n != mine and f"{root}/{n}" != "/tmp/w"]
    left += [os.path.join(root, n) for n in names]
return left + [p for p in ("/tmp/blind", "/tmp/locked") if os.path.lexists(p)]
"""
MAKE_IPC = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
made = []
IPC_CREAT = 0o1000
msq = libc.msgget(0x5EC1, IPC_CREAT | 0o666)
if msq >= 0:
    msg = (ctypes.c_char * 40)(*b"\\x01\\0\\0\\0\\0\\0\\0\\0from the previous item")
    libc.msgsnd(msq, msg, 32, 0)
    made.append("msg")
shm = libc.shmget(0x5EC2, 1 << 20, IPC_CREAT | 0o666)
if shm >= 0:
    made.append("shm")
if libc.semget(0x5EC3, 1, IPC_CREAT | 0o666) >= 0:
    made.append("sem")
libc.mq_open.restype = ctypes.c_int
if libc.mq_open(b"/referee-left", os.O_CREAT | os.O_RDWR, 0o600, None) >= 0:
    made.append("mq")
return made
"""
SEE_IPC = """
import ctypes, os
left = []
for kind in ("msg", "shm", "sem"):
    with open(f"/proc/sysvipc/{kind}") as f:
        left += [kind + ": " + line.strip() for line in f.read().splitlines()[1:]]
libc = ctypes.CDLL(None, use_errno=True)
libc.mq_open.restype = ctypes.c_int
if libc.mq_open(b"/referee-left", os.O_RDWR, 0, None) >= 0:
    left.append("mq")
return left
"""


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        pytest.param(LOCKED_DIRS, LEFT_IN_TMP, id="read-only-directories"),
        pytest.param(MAKE_IPC, SEE_IPC, id="sysv-and-posix-ipc"),
    ],
)
def test_nothing_survives_the_cleanup(client: httpx.Client, writer: str, reader: str) -> None:
    # Separate requests: the reader runs after the writer's item was cleaned up.
    (first,) = score(client, io_item(probe(writer)))
    (second,) = score(client, io_item(probe(reader)))
    assert judged(first) == ("ok", "correct"), first
    assert judged(second) == ("ok", "correct"), second
    results = score(client, honest_io_item(), honest_call_item())
    assert [judged(r) for r in results] == [("ok", "correct")] * 2, results


DEEP_TREE = """
import os
path = "/tmp"
for i in range(300):  # deeper than the wipe goes: only a fresh jail gets rid of it
    path = os.path.join(path, "d")
    os.mkdir(path)
return None
"""


def test_a_jail_too_dirty_to_clean_is_replaced_and_judging_goes_on(
    client: httpx.Client, lone: Server
) -> None:
    # The worker holding the jail is confined and may not start another: it is
    # replaced with a fresh jail, and the items after it are judged as usual.
    for _ in range(2):
        (dirty,) = score(client, io_item(probe(DEEP_TREE)))
        assert judged(dirty) == ("ok", "correct"), dirty
        results = score(client, honest_io_item(), honest_call_item())
        assert [judged(r) for r in results] == [("ok", "correct")] * 2, results
    text = httpx.get(lone.url + "/metrics").text
    assert 'referee_worker_restarts_total{reason="sandbox"}' in text


# -- hole: memory limits of every language -------------------------------------------------------

JS_BUFFERS = """
const chunks = [];
for (let i = 0; i < 24; i++) chunks.push(Buffer.alloc(64 << 20, 1));
const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(' ').map(Number);
console.log(a + b);
"""
JS_HEAP = """
const keep = [];
for (let i = 0; i < 6e6; i++) keep.push({i, s: 'x' + i});
const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(' ').map(Number);
console.log(a + b);
"""
CPP_TOUCH = """
#include <cstdio>
#include <cstring>
#include <cstdlib>
int main() {
    for (int i = 0; i < 24; i++) {
        char *p = new char[64 << 20];
        memset(p, 1, 64 << 20);
    }
    long a, b; scanf("%ld %ld", &a, &b); printf("%ld\\n", a + b);
}
"""
PY_TOUCH = """
keep = [bytearray(b"x" * (64 << 20)) for _ in range(24)]
a, b = map(int, input().split())
print(a + b)
"""


@pytest.mark.parametrize(
    ("lang", "source"),
    [
        pytest.param("javascript", JS_BUFFERS, id="js-buffers"),
        pytest.param("javascript", JS_HEAP, id="js-heap"),
        pytest.param("cpp", CPP_TOUCH, id="cpp"),
        pytest.param("python", PY_TOUCH, id="python"),
    ],
)
def test_memory_limit_holds_in_every_language(client: httpx.Client, lang: str, source: str) -> None:
    hog = io_item(source, lang=lang, stdin="1 2\n", stdout="3\n", memory_limit_mb=64)
    (result,) = score(client, hog)
    assert judged(result) == ("ok", "memory_limit"), result
    # An honest program under the same limit is judged correct.
    (honest,) = score(
        client, honest_io_item(lang if lang != "cpp" else "python", memory_limit_mb=64)
    )
    assert judged(honest) == ("ok", "correct"), honest


def test_run_code_memory_is_held_and_capped(client: httpx.Client) -> None:
    request = {"code": JS_BUFFERS, "language": "javascript", "stdin": "1 2\n"}
    r = client.post("/run_code", json={**request, "memory_limit_MB": 128})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "Failed", body
    assert body["run_result"]["stdout"] != "3\n", body
    r = client.post("/run_code", json={**request, "memory_limit_MB": 16384})
    assert r.status_code == 422, r.text
    assert "memory_limit_MB" in r.text
    r = client.post("/run_code", json={**request, "run_timeout": 90})
    assert r.status_code == 422, r.text
    assert "run_timeout" in r.text
    ok = client.post(
        "/run_code",
        json={
            "code": "print(sum(map(int, input().split())))",
            "language": "python",
            "stdin": "1 2\n",
        },
    )
    assert ok.status_code == 200 and ok.json()["status"] == "Success", ok.text
