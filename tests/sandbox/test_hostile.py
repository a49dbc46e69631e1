"""Hostile programs sent through ``POST /score`` (verifier ``code``) to a real server.

Every case must be contained, judged (``status: ok``) with the right outcome,
leave no process of the jail behind, and the next honest request must still be
judged right. Two kinds of program:

- *raw*: does the hostile thing and lets it fail as it will; the reference is
  a+b and the expected outcome is what a judge should say (``runtime_error``
  for an uncaught PermissionError, ``timeout``, ``memory_limit``...).
- *probe*: tries an attack, catches its failure and prints ``contained``; when
  the attack works it prints ``ESCAPED`` and what it got. The reference expects
  ``contained``, so ``correct`` means the attack failed, and when it did not the
  details show what leaked.

Every hole these cases found has been closed; they stay as regression tests.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import Server, start_server, stop_server

JAIL_UID_BASE = 60000  # uids.AUTO_BASE: each server claims a block of 256 uids from here,
UID_BLOCK = 256  # its jails in the lower half, its confined workers in the upper half
SESSION_WORKERS = 2  # the session server of conftest.py (start_server's default)
CONTAINED = "contained"
REPO = Path(__file__).resolve().parents[2]
SECRET = f"referee-secret-{uuid.uuid4().hex}"
# Like conftest.SERVER_ENV, for the servers this file starts itself (each with a
# jail uid range of its own: RLIMIT_NPROC counts per uid).
OWN_ENV = {
    "REFEREE_ITEM_TIMEOUT_S": "3",
    "REFEREE_HARD_GRACE_S": "1",
    "REFEREE_WORKER_MEMORY_LIMIT_MB": "1024",
}

PROBE = """\
def attack():
{body}


try:
    got = attack()
except Exception:
    got = None
print("contained" if not got else "ESCAPED " + repr(got)[:150])
"""


def probe(body: str) -> str:
    """A Python program that runs ``body`` as a function: truthy return means escaped."""
    return PROBE.format(body=textwrap.indent(textwrap.dedent(body).strip(), "    "))


def item(
    source: str,
    *,
    lang: str = "python",
    stdin: str = "1 2\n",
    stdout: str = "3\n",
    time_limit_s: float = 1.0,
) -> dict[str, Any]:
    return {
        "response": f"```{lang}\n{textwrap.dedent(source).strip()}\n```",
        "reference": {
            "language": lang,
            "tests": [{"stdin": stdin, "stdout": stdout}],
            "time_limit_s": time_limit_s,
        },
    }


def probe_item(body: str) -> dict[str, Any]:
    return item(probe(body), stdin="", stdout=CONTAINED)


def score(client: httpx.Client, *items: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post("/score", json={"verifier": "code", "items": list(items)})
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    assert len(results) == len(items)
    for result in results:  # never the full program output
        assert len(json.dumps(result)) < 4000, result
    return results


def verdict(result: dict[str, Any]) -> tuple[str, str | None, str]:
    """(status, outcome, what the program printed or why it could not be judged)."""
    failure = (result.get("details") or {}).get("first_failure") or {}
    said = failure.get("got") or failure.get("stderr") or json.dumps(result.get("error"))
    return result["status"], result.get("outcome"), str(said)


# -- what is left on the host ------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    uid: int
    comm: str


def _processes() -> dict[int, Proc]:
    procs: dict[int, Proc] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:  # gone meanwhile
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        uid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))
        procs[int(name)] = Proc(int(name), ppid, uid, comm)
    return procs


def _descendants(procs: dict[int, Proc], root: int) -> list[Proc]:
    children: dict[int, list[Proc]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p)
    below: list[Proc] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            below.append(child)
            stack.append(child.pid)
    return below


@dataclass
class JailCensus:
    """The processes of the jail uids under one server, sorted into jails and strays."""

    jails: list[Proc] = field(default_factory=list)  # the outer bwrap of each jail
    fork_servers: list[Proc] = field(default_factory=list)
    strays: list[Proc] = field(default_factory=list)


def _is_jail_uid(uid: int) -> bool:
    return uid >= JAIL_UID_BASE and (uid - JAIL_UID_BASE) % UID_BLOCK < UID_BLOCK // 2


def jail_census(server_pid: int) -> JailCensus:
    """Jail processes below ``server_pid`` (the workers reap orphans: they stay below it).

    A jail is setpriv-exec'd outer bwrap (its parent is a worker, not a jail uid) ->
    ``python3 -I /opt/referee/server.py`` (pid 1 of the jail, ``--as-pid-1``; with an
    inner bwrap between them on bwrap setups without it) -> its candidate zygote (its
    first child). Any other jail-uid process there is a stray: it outlived the run
    that made it.
    """
    procs = _processes()
    below = _descendants(procs, server_pid)
    census = JailCensus()
    jail = [p for p in below if _is_jail_uid(p.uid)]
    host = {p.pid for p in below if not _is_jail_uid(p.uid)}
    outer = {p.pid for p in jail if p.comm == "bwrap" and p.ppid in host}
    inner = {p.pid for p in jail if p.comm == "bwrap" and p.ppid in outer}
    seen_inner: set[int] = set()
    servers = {p.pid for p in jail if p.comm == "python3" and (p.ppid in inner or p.ppid in outer)}
    for p in jail:
        if p.pid in outer:
            census.jails.append(p)
        elif p.pid in inner:
            pass
        elif (
            p.comm == "python3"
            and (p.ppid in inner or p.ppid in outer)
            and p.ppid not in seen_inner
        ):
            seen_inner.add(p.ppid)
            census.fork_servers.append(p)
        elif (
            p.comm == "python3"
            and p.ppid in servers
            and p.pid == min(q.pid for q in jail if q.ppid == p.ppid)
        ):
            pass  # the server's candidate zygote: its first child, made before any request
        else:
            census.strays.append(p)
    return census


def assert_still_judging(server: Server, client: httpx.Client, workers: int) -> None:
    """No stray or extra jail is left, and honest a+b programs are judged correct."""
    deadline = time.monotonic() + 3
    census = jail_census(server.process.pid)
    # A killed process or jail may take a moment to be reaped.
    while (census.strays or len(census.jails) > workers) and time.monotonic() < deadline:
        time.sleep(0.05)
        census = jail_census(server.process.pid)
    assert census.strays == [], "processes of the jail outlived the request"
    assert len(census.jails) <= workers, f"jails leaked: {census.jails}"
    # A batch, so that each worker (and its jail) gets some; a nonce, so no cache hit.
    honest = [
        item(f"# {uuid.uuid4()}\na, b = map(int, input().split())\nprint(a + b)")
        for _ in range(2 * workers)
    ]
    results = score(client, *honest)
    assert [(r["status"], r["outcome"]) for r in results] == [("ok", "correct")] * len(honest)
    assert client.get("/readyz").json()["status"] == "ready"
    assert jail_census(server.process.pid).fork_servers, "the census no longer sees the jails"


# -- raw hostile programs: the outcome a judge should give ---------------------------------------

A_PLUS_B_CPP = """
#include <cstdio>
int main() { long a, b; scanf("%ld %ld", &a, &b); printf("%ld\\n", a + b); }
"""

RAW = [
    # -- processes
    pytest.param(
        "python", "import os\nwhile True:\n    os.fork()", "runtime_error", id="py-fork-loop"
    ),
    # Debatable: the program catches the refused fork and answers right. A judge
    # grades what the program printed; the sandbox refused the attack, nothing
    # escaped, and penalising would make the reward depend on the sandbox's policy
    # instead of the task. So: correct.
    pytest.param(
        "python",
        """
        import os
        try:
            os.fork()
        except OSError:
            pass
        a, b = map(int, input().split())
        print(a + b)
        """,
        "correct",
        id="py-fork-refused-then-answer",
    ),
    pytest.param(
        "python",
        """
        import subprocess
        r = subprocess.run(["/bin/sh", "-c", "echo 3"], capture_output=True, text=True)
        print(r.stdout)
        """,
        "runtime_error",
        id="py-subprocess",
    ),
    pytest.param(
        "python",
        """
        import multiprocessing
        if __name__ == "__main__":
            with multiprocessing.Pool(8) as pool:
                print(sum(pool.map(int, input().split())))
        """,
        "runtime_error",
        id="py-multiprocessing",
    ),
    # system() cannot start the shell: nothing is printed.
    pytest.param("python", "import os\nos.system('echo 3')", "incorrect", id="py-os-system"),
    pytest.param(
        "python",
        """
        import threading, time
        while True:
            threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
        """,
        "runtime_error",
        id="py-thread-bomb",
    ),
    pytest.param("python", "import os\nos.setsid()\nprint(3)", "runtime_error", id="py-setsid"),
    pytest.param(
        "python",
        """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    time.sleep(1)
            os._exit(0)
        print(3)
        """,
        "runtime_error",
        id="py-double-fork-daemon",
    ),
    # -- resources
    pytest.param("python", "x = bytearray(8 << 30)\nprint(3)", "memory_limit", id="py-alloc-8gib"),
    # bytes(n) is calloc'd and never touched: no page faults that a busy machine
    # could stretch into a timeout.
    pytest.param(
        "python",
        "chunks = []\nwhile True:\n    chunks.append(bytes(64 << 20))",
        "memory_limit",
        id="py-alloc-grow",
    ),
    pytest.param("python", "while True:\n    pass", "timeout", id="py-infinite-loop"),
    pytest.param("python", "import time\ntime.sleep(10**6)", "timeout", id="py-sleep-forever"),
    # Stopped, it uses no CPU: only the wall clock ends it.
    pytest.param(
        "python",
        "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)",
        "timeout",
        id="py-stop-self",
    ),
    pytest.param(
        "python",
        """
        import sys
        chunk = "x" * (1 << 20)
        for _ in range(1024):
            sys.stdout.write(chunk)
        """,
        "output_limit",
        id="py-stdout-1gb",
    ),
    pytest.param(
        "python",
        """
        import sys
        chunk = "x" * (1 << 20)
        for _ in range(1024):
            sys.stderr.write(chunk)
        """,
        "output_limit",
        id="py-stderr-1gb",
    ),
    # -- signals
    pytest.param(
        "python",
        "import os\nos.kill(os.getppid(), 9)\nprint(3)",
        "runtime_error",
        id="py-kill-parent",
    ),
    pytest.param(
        "python", "import os\nos.kill(-1, 9)\nprint(3)", "runtime_error", id="py-kill-minus-1"
    ),
    pytest.param(
        "python", "import os\nos.killpg(0, 9)\nprint(3)", "runtime_error", id="py-killpg-0"
    ),
    pytest.param(
        "python", "import os\nos.kill(1, 9)\nprint(3)", "runtime_error", id="py-kill-init"
    ),
    # The shell never starts (no fork); the answer is right: correct (as above).
    pytest.param(
        "python",
        "import os\nos.system('kill -9 -1')\nprint(sum(map(int, input().split())))",
        "correct",
        id="py-shell-kill-then-answer",
    ),
    # -- things that outlive the program
    # A daemon thread dies with the program under CPython too: correct.
    pytest.param(
        "python",
        """
        import sys, threading, time
        def tick():
            while True:
                print("tick", file=sys.stderr, flush=True)
                time.sleep(0.01)
        threading.Thread(target=tick, daemon=True).start()
        print(sum(map(int, input().split())))
        """,
        "correct",
        id="py-daemon-thread-keeps-printing",
    ),
    # A non-daemon thread keeps `python3 main.py` alive forever: the program never
    # ends, which every judge calls a timeout. The fork server os._exit()s when the
    # main module ends instead, so this is judged correct (and the honest idiom
    # below is judged wrong).
    pytest.param(
        "python",
        """
        import sys, threading, time
        def tick():
            while True:
                print("tick", file=sys.stderr, flush=True)
                time.sleep(0.01)
        threading.Thread(target=tick).start()
        print(sum(map(int, input().split())))
        """,
        "timeout",
        id="py-thread-keeps-printing",
    ),
    # The common competitive-programming idiom for deep recursion: the work runs in
    # a non-daemon thread that the main module does not join. (Without the deep
    # recursion the thread sometimes prints before the main module ends: a race.)
    pytest.param(
        "python",
        """
        import sys, threading
        def depth(n):
            return 0 if n == 0 else 1 + depth(n - 1)
        def main():
            a, b = map(int, sys.stdin.readline().split())
            print(a + b + depth(100000) - 100000)
        sys.setrecursionlimit(1 << 25)
        threading.stack_size(1 << 26)
        threading.Thread(target=main).start()
        """,
        "correct",
        id="py-honest-thread-idiom",
    ),
    pytest.param(
        "python",
        "import atexit\natexit.register(lambda: print(3))",
        "correct",
        id="py-honest-atexit",
    ),
    # -- C++
    pytest.param(
        "cpp", "#include <unistd.h>\nint main() { for (;;) fork(); }", "timeout", id="cpp-fork-bomb"
    ),
    pytest.param(
        "cpp",
        "#include <unistd.h>\n" + A_PLUS_B_CPP.replace("int main() {", "int main() { fork();"),
        "correct",
        id="cpp-fork-refused-then-answer",
    ),
    pytest.param(
        "cpp",
        """
        #include <thread>
        #include <unistd.h>
        #include <vector>
        int main() { std::vector<std::thread> ts; for (;;) ts.emplace_back([] { pause(); }); }
        """,
        "runtime_error",
        id="cpp-thread-bomb",
    ),
    pytest.param(
        "cpp",
        "int main() { volatile unsigned long x = 0; for (;;) x++; }",
        "timeout",
        id="cpp-infinite-loop",
    ),
    pytest.param(
        "cpp",
        "#include <unistd.h>\nint main() { for (;;) pause(); }",
        "timeout",
        id="cpp-sleep-forever",
    ),
    pytest.param(
        "cpp",
        """
        #include <cstdio>
        #include <vector>
        int main() { std::vector<char> v(8ull << 30, 1); printf("%d\\n", v[12345]); }
        """,
        "memory_limit",
        id="cpp-alloc-8gib",
    ),
    pytest.param(
        "cpp",
        """
        #include <cstdio>
        #include <cstring>
        static char chunk[1 << 20];
        int main() {
            memset(chunk, 'x', sizeof chunk);
            for (int i = 0; i < 1024; i++) fwrite(chunk, 1, sizeof chunk, stdout);
        }
        """,
        "output_limit",
        id="cpp-stdout-1gb",
    ),
    # system() cannot start the shell: nothing is printed.
    pytest.param(
        "cpp",
        '#include <cstdlib>\nint main() { return system("echo 3"); }',
        "incorrect",
        id="cpp-system",
    ),
    # Every kill fails harmlessly (EPERM) and the answer is right: correct.
    pytest.param(
        "cpp",
        "#include <signal.h>\n#include <unistd.h>\n"
        + A_PLUS_B_CPP.replace(
            "int main() {", "int main() { kill(-1, 9); kill(0, 9); kill(1, 9); kill(getppid(), 9);"
        ),
        "correct",
        id="cpp-kill-everything-then-answer",
    ),
    # A compiled program may exec (the seccomp filter goes with it); the shell's
    # kills fail, its echo is the answer: correct.
    pytest.param(
        "cpp",
        """
        #include <unistd.h>
        int main() { execl("/bin/sh", "sh", "-c", "kill -9 -1; kill -9 0; echo 3", (char*)0); }
        """,
        "correct",
        id="cpp-exec-shell-kill",
    ),
]


# -- C, Java, Go, Rust (toolchains from Debian packages: .ci/system-deps.sh)


def _toolchain(lang: str) -> pytest.MarkDecorator:
    tool = {"c": "gcc", "java": "javac", "go": "go", "rust": "rustc"}[lang]
    return pytest.mark.skipif(
        not os.path.exists(f"/usr/bin/{tool}"), reason=f"/usr/bin/{tool} is not installed"
    )


A_PLUS_B = {
    "c": '#include <stdio.h>\nint main() { long a, b; scanf("%ld %ld", &a, &b); '
    'printf("%ld\\n", a + b); return 0; }',
    "java": "import java.util.*;\npublic class Main { public static void main(String[] x) { "
    "Scanner s = new Scanner(System.in); long a = s.nextLong(), b = s.nextLong(); "
    "System.out.println(a + b); } }",
    "go": 'package main\nimport "fmt"\nfunc main() { var a, b int64\n'
    "fmt.Scan(&a, &b)\nfmt.Println(a + b) }",
    "rust": "use std::io::*;\nfn main() { let mut s = String::new(); "
    "stdin().read_to_string(&mut s).unwrap(); let v: Vec<i64> = "
    "s.split_whitespace().map(|x| x.parse().unwrap()).collect(); "
    'println!("{}", v[0] + v[1]); }',
}


def _lang_case(lang: str, source: str, outcome: str, name: str) -> Any:
    return pytest.param(lang, source, outcome, id=f"{lang}-{name}", marks=_toolchain(lang))


LANGUAGE_RAW = [
    *(_lang_case(lang, src, "correct", "a-plus-b") for lang, src in A_PLUS_B.items()),
    *(
        _lang_case(
            lang, src.replace("a + b", "a - b").replace("v[0] +", "v[0] -"), "incorrect", "wrong"
        )
        for lang, src in A_PLUS_B.items()
    ),
    _lang_case("c", "int main() { return x; }", "compile_error", "compile-error"),
    _lang_case(
        "java",
        'public class Main { public static void main(String[] a) { int x = "s"; } }',
        "compile_error",
        "compile-error",
    ),
    _lang_case("go", "package main\nfunc main() { x := }", "compile_error", "compile-error"),
    _lang_case("rust", 'fn main() { let x: i32 = "s"; }', "compile_error", "compile-error"),
    # -- C
    _lang_case("c", "#include <unistd.h>\nint main() { for (;;) fork(); }", "timeout", "fork-bomb"),
    _lang_case(
        "c", "int main() { volatile unsigned long x = 0; for (;;) x++; }", "timeout", "loop"
    ),
    # malloc fails under the limit; writing through its NULL is the program's crash.
    _lang_case(
        "c",
        "#include <stdlib.h>\n#include <string.h>\n"
        "int main() { char *p = malloc(1ul << 33); memset(p, 1, 1ul << 33); return p[5]; }",
        "runtime_error",
        "alloc-8gib",
    ),
    # -- Java: threads allowed, held by the process limit; no exec
    _lang_case(
        "java",
        "public class Main { public static void main(String[] a) { long x = 0; "
        "while (true) { x++; } } }",
        "timeout",
        "loop",
    ),
    _lang_case(
        "java",
        "import java.util.*;\npublic class Main { public static void main(String[] a) { "
        "List<long[]> l = new ArrayList<>(); while (true) l.add(new long[1 << 20]); } }",
        "memory_limit",
        "alloc-grow",
    ),
    _lang_case(
        "java",
        "public class Main { public static void main(String[] a) { while (true) { "
        "new Thread(() -> { try { Thread.sleep(100000); } catch (Exception e) { } }).start(); "
        "} } }",
        "timeout",
        "thread-bomb",
    ),
    _lang_case(
        "java",
        "public class Main { public static void main(String[] a) throws Exception { "
        'Process p = new ProcessBuilder("/bin/sh", "-c", "echo 3").start(); '
        "System.out.print(new String(p.getInputStream().readAllBytes())); } }",
        "runtime_error",
        "exec-shell",
    ),
    # -- Go: the runtime's threads are allowed, exec is not
    _lang_case("go", "package main\nfunc main() { x := 0; for { x++ } }", "timeout", "loop"),
    _lang_case(
        "go",
        "package main\nfunc main() { var k [][]byte; for { b := make([]byte, 64<<20); "
        "for j := range b { b[j] = 1 }; k = append(k, b) } }",
        "memory_limit",
        "alloc-grow",
    ),
    _lang_case(
        "go",
        # 64 goroutines each holding an OS thread: the runtime cannot start the
        # threads past the process limit and stops with a short goroutine dump.
        'package main\nimport ("runtime"; "time")\nfunc main() { for i := 0; i < 64; i++ { '
        "go func() { runtime.LockOSThread(); time.Sleep(time.Hour) }() }\n"
        "time.Sleep(time.Hour) }",
        "runtime_error",
        "thread-bomb",
    ),
    _lang_case(
        "go",
        'package main\nimport ("fmt"; "os/exec")\nfunc main() { '
        'out, _ := exec.Command("/bin/sh", "-c", "echo 3").Output(); fmt.Print(string(out)) }',
        "incorrect",
        "exec-shell",
    ),
    # -- Rust
    _lang_case(
        "rust",
        "fn main() { let mut x: u64 = 1; loop { x = x.wrapping_mul(3); "
        'if x == 0 { println!("{}", x); } } }',
        "timeout",
        "loop",
    ),
    _lang_case(
        "rust",
        "fn main() { let mut v: Vec<Vec<u8>> = Vec::new(); loop { v.push(vec![1u8; 64 << 20]); } }",
        "memory_limit",
        "alloc-grow",
    ),
    _lang_case(
        "rust",
        "fn main() { loop { std::thread::spawn(|| "
        "std::thread::sleep(std::time::Duration::from_secs(1000))); } }",
        "runtime_error",
        "thread-bomb",
    ),
    _lang_case(
        "rust",
        'fn main() { let o = std::process::Command::new("/bin/sh").arg("-c").arg("echo 3")'
        '.output(); if let Ok(o) = o { print!("{}", String::from_utf8_lossy(&o.stdout)); } }',
        "incorrect",
        "exec-shell",
    ),
]
RAW += LANGUAGE_RAW


@pytest.mark.parametrize(("lang", "source", "outcome"), RAW)
def test_raw_hostile_program(
    server: Server, client: httpx.Client, lang: str, source: str, outcome: str
) -> None:
    (result,) = score(client, item(source, lang=lang))
    assert_still_judging(server, client, SESSION_WORKERS)
    assert verdict(result)[:2] == ("ok", outcome), verdict(result)
    if outcome == "output_limit":  # details carry a short excerpt, never the gigabyte
        failure = result["details"]["first_failure"]
        assert max(len(failure.get("got", "")), len(failure.get("stderr", ""))) <= 200


# -- network -----------------------------------------------------------------------------------


@dataclass
class Listener:
    port: int
    connections: list[Any]


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A TCP server on loopback that records who connects."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.05)
    found = Listener(sock.getsockname()[1], [])
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            found.connections.append(addr)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    # It must see a connection, or the test could not fail.
    socket.create_connection(("127.0.0.1", found.port), timeout=1).close()
    deadline = time.monotonic() + 2
    while not found.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert found.connections, "the listener does not record connections"
    found.connections.clear()
    yield found
    stop.set()
    thread.join()
    sock.close()


CONNECT_CPP = """
#include <arpa/inet.h>
#include <cstdio>
#include <sys/socket.h>
int main() {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) { puts("contained"); return 0; }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(PORT);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    puts(connect(s, (sockaddr*)&a, sizeof a) == 0 ? "ESCAPED connected" : "contained");
}
"""


CONNECT = {
    "java": "public class Main { public static void main(String[] a) { try { "
    'new java.net.Socket("127.0.0.1", PORT).close(); System.out.println("ESCAPED connected"); '
    '} catch (Exception e) { System.out.println("contained"); } } }',
    "go": 'package main\nimport ("fmt"; "net"; "time")\nfunc main() { '
    'c, err := net.DialTimeout("tcp", "127.0.0.1:PORT", time.Second)\n'
    'if err != nil { fmt.Println("contained"); return }\n'
    'c.Close(); fmt.Println("ESCAPED connected") }',
    "rust": 'fn main() { match std::net::TcpStream::connect(("127.0.0.1", PORT)) { '
    'Ok(_) => println!("ESCAPED connected"), Err(_) => println!("contained") } }',
}


@pytest.mark.parametrize(
    "lang",
    [
        "python",
        "cpp",
        *(pytest.param(lang, marks=_toolchain(lang)) for lang in ("java", "go", "rust")),
    ],
)
def test_cannot_connect_to_a_loopback_server(
    server: Server, client: httpx.Client, listener: Listener, lang: str
) -> None:
    if lang in CONNECT:
        source = CONNECT[lang].replace("PORT", str(listener.port))
        hostile = item(source, lang=lang, stdin="", stdout=CONTAINED)
    elif lang == "python":
        body = f"""
            import socket
            socket.create_connection(("127.0.0.1", {listener.port}), timeout=1).close()
            return "connected"
        """
        hostile = probe_item(body)
    else:
        source = CONNECT_CPP.replace("PORT", str(listener.port))
        hostile = item(source, lang="cpp", stdin="", stdout=CONTAINED)
    (result,) = score(client, hostile)
    assert_still_judging(server, client, SESSION_WORKERS)
    assert listener.connections == []
    assert verdict(result)[:2] == ("ok", "correct"), verdict(result)


@pytest.mark.parametrize(
    "body",
    [
        # Resolving localhost from a local hosts file would be harmless; only a
        # non-loopback answer means a resolver was reached.
        pytest.param(
            """
            import socket
            try:
                infos = socket.getaddrinfo("localhost", 80)
            except socket.gaierror:
                return None
            return [i[4][0] for i in infos if not i[4][0].startswith(("127.", "::1"))]
            """,
            id="localhost",
        ),
        pytest.param(
            'import socket\nreturn socket.getaddrinfo("example.com", 80)', id="example.com"
        ),
    ],
)
def test_cannot_resolve_names(server: Server, client: httpx.Client, body: str) -> None:
    (result,) = score(client, probe_item(body))
    assert_still_judging(server, client, SESSION_WORKERS)
    assert verdict(result)[:2] == ("ok", "correct"), verdict(result)


# -- the host's files ----------------------------------------------------------------------------

READ = """
import os
path = {path!r}
if os.path.isdir(path):
    return os.listdir(path)
with open(path, "rb") as f:
    return f.read(200) or b"(empty file)"
"""


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/etc/shadow", id="etc-shadow"),
        pytest.param(str(REPO / "service" / "app.py"), id="repo-source"),
        pytest.param(str(REPO), id="repo-dir"),
        pytest.param("/root", id="root-home"),
        pytest.param("SERVER_LOG", id="server-log"),
        pytest.param("SERVER_PROC", id="server-proc-environ"),
    ],
)
def test_cannot_read_host_files(server: Server, client: httpx.Client, path: str) -> None:
    path = {
        "SERVER_LOG": str(server.log),
        "SERVER_PROC": f"/proc/{server.process.pid}/environ",
    }.get(path, path)
    assert Path(path).exists()  # it is there on the host: the test can fail
    (result,) = score(client, probe_item(READ.format(path=path)))
    assert_still_judging(server, client, SESSION_WORKERS)
    assert verdict(result)[:2] == ("ok", "correct"), verdict(result)


WRITE = """
with open({path!r}, "a") as f:
    f.write("x")
return "wrote {path}"
"""


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/usr/bin/x", id="usr-bin"),
        pytest.param("/usr/lib/x", id="usr-lib"),
        pytest.param("/opt/referee/server.py", id="jail-script"),
        pytest.param("/opt/referee/x", id="jail-dir"),
        pytest.param("/proc/sys/kernel/hostname", id="proc-sys"),
        pytest.param("/x", id="jail-root"),
        pytest.param("/etc/ld.so.preload", id="etc-ld-so-preload"),
        pytest.param(
            "/dev/x",
            id="dev",
        ),
        pytest.param(
            "/dev/shm/x",
            id="dev-shm",
        ),
    ],
)
def test_cannot_write_outside_tmp(server: Server, client: httpx.Client, path: str) -> None:
    (result,) = score(client, probe_item(WRITE.format(path=path)))
    assert_still_judging(server, client, SESSION_WORKERS)
    assert verdict(result)[:2] == ("ok", "correct"), verdict(result)


@pytest.mark.parametrize(
    "body",
    [
        # Links resolve inside the jail's own mount namespace: the host is not there.
        pytest.param(
            f'import os\nos.symlink("{REPO / "service"}", "x")\nreturn os.listdir("x")',
            id="symlink-to-host-dir",
        ),
        pytest.param(
            'import os\nos.symlink("/etc/shadow", "x")\nreturn open("x").read(80)',
            id="symlink-shadow",
        ),
        pytest.param(
            """
            import os
            os.symlink("/opt/referee/server.py", "x")
            with open("x", "a") as f:
                f.write("#")
            return "wrote the jail's server.py"
            """,
            id="symlink-jail-script-write",
        ),
        pytest.param(
            """
            import os
            os.symlink("/opt/referee", "/tmp/jail-scripts")
            with open("/tmp/jail-scripts/sitecustomize.py", "w") as f:
                f.write("import os")
            return "planted a module next to server.py"
            """,
            id="symlink-jail-dir-write",
        ),
        pytest.param(
            'import os\nos.link("/opt/referee/server.py", "x")\nreturn "hard link made"',
            id="hardlink-jail-script",
        ),
    ],
)
def test_symlink_tricks(server: Server, client: httpx.Client, body: str) -> None:
    (result,) = score(client, probe_item(body))
    assert_still_judging(server, client, SESSION_WORKERS)
    assert verdict(result)[:2] == ("ok", "correct"), verdict(result)


# -- the fork server ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "outcomes"),
    [
        pytest.param(
            """
            import os, signal
            signal.pidfd_send_signal(os.pidfd_open(os.getppid()), signal.SIGKILL)
            return "killed the fork server"
            """,
            {"correct"},
            id="pidfd-send-signal",
        ),
        pytest.param(
            """
            import ctypes, os
            nr = {"x86_64": 200, "aarch64": 130}[os.uname().machine]  # SYS_tkill
            if ctypes.CDLL(None).syscall(nr, os.getppid(), 9) != 0:
                return None
            return "killed the fork server"
            """,
            {"correct"},
            id="tkill",
        ),
        # Joined to the server's process group, killpg(child) misses it and the
        # server waits for it forever. Blocking setpgid (correct) or killing it
        # anyway at the time limit (timeout) both judge it.
        pytest.param(
            """
            import os, time
            os.setpgid(0, os.getpgid(os.getppid()))
            time.sleep(10**6)
            """,
            {"correct", "timeout"},
            id="setpgid-into-server-group",
        ),
    ],
)
def test_cannot_signal_the_fork_server(
    server: Server, client: httpx.Client, body: str, outcomes: set[str]
) -> None:
    (result,) = score(client, probe_item(body))
    assert_still_judging(server, client, SESSION_WORKERS)
    status, outcome, said = verdict(result)
    assert status == "ok", said
    assert outcome in outcomes, said


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            """
            import os
            with open(f"/proc/{os.getppid()}/mem", "r+b", buffering=0):
                return "opened the fork server's memory"
            """,
            id="fork-server-mem",
        ),
        pytest.param(
            'import os\nreturn os.listdir(f"/proc/{os.getppid()}/fd")', id="fork-server-fds"
        ),
        # Its stdout is the pipe the worker reads replies from: a forged reply there
        # would be a forged verdict.
        pytest.param('return open("/proc/1/fd/1", "w")', id="jail-init-stdout"),
        # Writes back the bytes it read: proof of write access, no harm done.
        pytest.param(
            """
            with open("/proc/1/maps") as f:
                start = int(f.readline().split("-")[0], 16)
            with open("/proc/1/mem", "r+b", buffering=0) as mem:
                mem.seek(start)
                data = mem.read(8)
                mem.seek(start)
                mem.write(data)
            return "wrote into jail init's memory"
            """,
            id="jail-init-mem",
        ),
    ],
)
def test_other_jail_processes_are_out_of_reach(
    server: Server, client: httpx.Client, body: str
) -> None:
    (result,) = score(client, probe_item(body))
    assert_still_judging(server, client, SESSION_WORKERS)
    assert verdict(result)[:2] == ("ok", "correct"), verdict(result)


# The candidate used to be a fork of the fork server, whose memory held the request.
def test_call_based_tests_do_not_leak_expected_outputs(
    server: Server, client: httpx.Client
) -> None:
    source = """
    import gc
    def f(x):
        for o in gc.get_objects():
            if isinstance(o, dict) and "outputs" in o and "inputs" in o:
                for args, out in zip(o["inputs"], o["outputs"]):
                    if args == [x]:
                        return out
        return -1  # the honest program would have to know the rule; it does not
    """
    hostile = {
        "response": f"```python\n{textwrap.dedent(source).strip()}\n```",
        "reference": {
            "language": "python",
            "fn_name": "f",
            "inputs": [[2], [3]],
            "outputs": [17, 42],  # no rule: only the reference knows them
            "time_limit_s": 1,
        },
    }
    (result,) = score(client, hostile)
    assert_still_judging(server, client, SESSION_WORKERS)
    assert (result["status"], result["outcome"]) == ("ok", "incorrect"), result


# -- the server's environment and processes (a server of our own, one worker) -----------------


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One worker, so that consecutive items share one jail; the secret in its env."""
    env = {**OWN_ENV, "REFEREE_TEST_SECRET": SECRET}
    srv = start_server(tmp_path_factory.mktemp("hostile"), env, workers=1)
    yield srv
    stop_server(srv)


@pytest.fixture
def lone_client(lone: Server) -> Iterator[httpx.Client]:
    with lone.client() as c:
        yield c


ENVIRON = """
import os
with open({path!r}, "rb") as f:
    data = f.read()
return [v for v in data.split(b"\\0") if v.startswith(b"REFEREE_TEST_SECRET=")]
"""


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('import os\nreturn os.environ.get("REFEREE_TEST_SECRET")', id="os-environ"),
        pytest.param(ENVIRON.format(path="/proc/self/environ"), id="proc-self"),
        pytest.param(ENVIRON.format(path="/proc/HOST_PID/environ"), id="proc-host-server"),
        pytest.param(
            ENVIRON.replace("{path!r}", 'f"/proc/{os.getppid()}/environ"'), id="proc-fork-server"
        ),
        pytest.param(
            ENVIRON.format(path="/proc/1/environ"),
            id="proc-1-jail-init",
        ),
    ],
)
def test_secret_env_is_not_readable(lone: Server, lone_client: httpx.Client, body: str) -> None:
    host_environ = Path(f"/proc/{lone.process.pid}/environ").read_bytes()
    assert SECRET.encode() in host_environ  # the server has it: the test can fail
    body = body.replace("HOST_PID", str(lone.process.pid))
    r = lone_client.post("/score", json={"verifier": "code", "items": [probe_item(body)]})
    assert r.status_code == 200, r.text
    assert SECRET not in r.text
    assert_still_judging(lone, lone_client, 1)
    assert verdict(r.json()["results"][0])[:2] == ("ok", "correct"), r.text


def test_host_processes_are_not_visible(lone: Server, lone_client: httpx.Client) -> None:
    cmdline = Path(f"/proc/{lone.process.pid}/cmdline").read_bytes()
    assert b"serve\0--port" in cmdline  # what the probe looks for: the test can fail
    host = {lone.process.pid, *(p.pid for p in _descendants(_processes(), lone.process.pid))}
    body = f"""
        import os
        host = {sorted(host)!r}
        seen = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        hits = [p for p in seen if p in host]
        for p in seen:
            try:
                with open(f"/proc/{{p}}/cmdline", "rb") as f:
                    if b"serve\\0--port" in f.read():
                        hits.append(p)
            except OSError:
                pass
        return hits
    """
    (result,) = score(lone_client, probe_item(body))
    assert_still_judging(lone, lone_client, 1)
    assert verdict(result)[:2] == ("ok", "correct"), verdict(result)


# -- nothing carries over from one item to the next ---------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        pytest.param("cwd", id="workdir"),
        pytest.param("/tmp", id="tmp"),
        pytest.param(
            "/dev/shm",
            id="dev-shm",
        ),
    ],
)
def test_nothing_carries_over_between_items(
    lone: Server, lone_client: httpx.Client, where: str
) -> None:
    name = f"left-{uuid.uuid4().hex}.txt"
    directory = "os.getcwd()" if where == "cwd" else repr(where)
    writer = f"""
        import os
        with open(os.path.join({directory}, {name!r}), "w") as f:
            f.write("from the previous item")
        return None
    """
    reader = f"""
        import glob, os
        found = [p for d in ("/tmp/w/*", "/tmp", "/dev/shm") for p in glob.glob(f"{{d}}/{name}")]
        others = [d for d in os.listdir("/tmp/w") if d != os.path.basename(os.getcwd())]
        return found + others
    """
    # One worker, one jail: the reader runs right after the writer, in the same jail.
    first, second = score(lone_client, probe_item(writer), probe_item(reader))
    assert_still_judging(lone, lone_client, 1)
    assert verdict(first)[:2] == ("ok", "correct"), verdict(first)
    assert verdict(second)[:2] == ("ok", "correct"), verdict(second)


# -- a program that changes the jail for the items after it (a fresh server each) ---------------


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path, OWN_ENV, workers=1)
    yield srv
    stop_server(srv)


def _hook_library(tmp_path: Path) -> str:
    """A shared library whose constructor makes any ``./main`` print 3 and exit 0."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is needed to build the preload library")
    src = tmp_path / "hook.c"
    src.write_text(
        textwrap.dedent(
            """
            #include <string.h>
            #include <unistd.h>
            __attribute__((constructor)) static void hook(void) {
                char exe[256];
                ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
                if (n <= 0) return;
                exe[n] = 0;
                const char *base = strrchr(exe, '/');
                if (base && strcmp(base, "/main") == 0) { write(1, "3\\n", 2); _exit(0); }
            }
            """
        )
    )
    lib = tmp_path / "hook.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-Os", "-s", "-o", lib, src], check=True)
    return base64.b64encode(lib.read_bytes()).decode()


POISON = [
    pytest.param(
        "prlimit",
    ),
    # Writes into the fork server's memory: zeroing FILTERS.ma_used made it skip
    # seccomp for the next item (before the jail's processes were made non-dumpable).
    pytest.param("proc-mem"),
    # Plants /etc/ld.so.preload: a later item's wrong C++ program was judged correct
    # (before the jail's root was remounted read-only).
    pytest.param("ld-so-preload"),
    pytest.param(
        "plant-workdir",
    ),
]


@pytest.mark.parametrize("attack", POISON)
def test_poisoning_the_jail(fresh: Server, tmp_path: Path, attack: str) -> None:
    with fresh.client() as client:
        if attack == "prlimit":
            hostile = probe_item(
                "import os, resource\n"
                "resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (3, 3))\n"
                'return "limited the fork server"'
            )
            victim = item("print(sum(map(int, input().split())))")
            victim_outcome = "correct"
        elif attack == "proc-mem":
            hostile = probe_item(
                """
                import os, struct, sys
                filters = sys.modules["__main__"].FILTERS  # forked: same address there
                with open(f"/proc/{os.getppid()}/mem", "r+b", buffering=0) as mem:
                    mem.seek(id(filters) + 16)  # PyDictObject.ma_used
                    mem.write(struct.pack("<q", 0))
                return "wrote into the fork server's memory"
                """
            )
            victim = probe_item(
                """
                import os
                pid = os.fork()
                if pid == 0:
                    os._exit(0)
                os.waitpid(pid, 0)
                return "forked"
                """
            )
            victim_outcome = "correct"
        elif attack == "ld-so-preload":
            hostile = probe_item(
                f"""
                import base64
                with open("/tmp/.hook.so", "wb") as f:
                    f.write(base64.b64decode({_hook_library(tmp_path)!r}))
                with open("/etc/ld.so.preload", "w") as f:
                    f.write("/tmp/.hook.so\\n")
                return "planted /etc/ld.so.preload"
                """
            )
            victim = item('#include <cstdio>\nint main() { puts("0"); }', lang="cpp")
            victim_outcome = "incorrect"
        else:
            hostile = probe_item(
                """
                import os
                base, n = os.getcwd().rsplit("-", 1)
                for k in range(1, 4):
                    with open(f"{base}-{int(n) + k}", "w") as f:
                        f.write("x")
                return None  # its own files in /tmp: allowed; the harm is to the next items
                """
            )
            victim = item("print(sum(map(int, input().split())))")
            victim_outcome = "correct"
        # Separate requests: with one worker, the victim runs next in the same jail.
        (first,) = score(client, hostile)
        (second,) = score(client, victim)
        verdicts = (verdict(first), verdict(second))
        assert [v[:2] for v in verdicts] == [("ok", "correct"), ("ok", victim_outcome)], verdicts
        assert_still_judging(fresh, client, 1)


# -- hostile checkers and interactors: the reference's programs are contained like candidates ----

HOSTILE_JUDGE = """
import os, signal, socket, sys
leaks = []
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
    leaks.append("connected")
except OSError:
    pass
for path in ("/etc/shadow", "/root/.bashrc", {repo!r} + "/pyproject.toml"):
    try:
        open(path).read(1)
        leaks.append(path)
    except OSError:
        pass
for pid in (1, os.getppid()):
    try:
        os.kill(pid, signal.SIGKILL)
        leaks.append(f"killed {{pid}}")
    except OSError:
        pass
try:
    open("/usr/planted", "w")
    leaks.append("wrote /usr")
except OSError:
    pass
try:  # a process left behind, if it can (the exec filter refuses fork)
    if os.fork() == 0:
        os.setsid()
        import time
        time.sleep(60)
        os._exit(0)
except OSError:
    pass
if leaks:
    print("ESCAPED", leaks, file=sys.stderr)
    sys.exit(0)
print("wrong answer: contained", file=sys.stderr)
sys.exit(1)
"""


def contest_item(source: str, **reference: Any) -> dict[str, Any]:
    return {
        "response": f"```python\n{textwrap.dedent(source).strip()}\n```",
        "reference": {"language": "python", "time_limit_s": 2, **reference},
    }


@pytest.mark.parametrize("role", ["checker", "interactor"])
def test_hostile_checker_or_interactor_is_contained(
    server: Server, client: httpx.Client, listener: Listener, role: str
) -> None:
    judge = {
        "language": "python",
        "source": HOSTILE_JUDGE.format(port=listener.port, repo=str(REPO)),
    }
    tests = [{"stdin": "1 2\n", "stdout": "3\n"}]
    (result,) = score(client, contest_item("print(4)", tests=tests, **{role: judge}))
    assert (result["status"], result["outcome"]) == ("ok", "incorrect"), result
    said = result["details"]["first_failure"][role]["message"]
    assert "contained" in said, said
    assert listener.connections == []
    assert_still_judging(server, client, SESSION_WORKERS)


TAMPERING_CANDIDATE = """
import os
ACCEPT = "import sys\\nsys.exit(0)\\n"
for root, dirs, files in os.walk("/tmp"):
    for name in ("checker.py", "run_checker.py", "checker"):
        try:
            with open(os.path.join(root, name), "w") as f:
                f.write(ACCEPT)
        except OSError:
            pass
print(4)
"""


def test_a_program_cannot_rewrite_the_checker_of_later_tests(
    server: Server, client: httpx.Client
) -> None:
    checker = {
        "language": "python",
        "source": "import sys\nsys.exit(0 if open(sys.argv[2]).read().split() == "
        "open(sys.argv[3]).read().split() else 1)",
    }
    tests = [{"stdin": "1 2\n", "stdout": "3\n"}] * 3
    reference = {"tests": tests, "checker": checker, "scoring": "fraction"}
    (result,) = score(client, contest_item(TAMPERING_CANDIDATE, **reference))
    assert (result["status"], result["outcome"], result["reward"]) == ("ok", "incorrect", 0.0)
    assert_still_judging(server, client, SESSION_WORKERS)


FLOODING_INTERACTOR = """
import sys
while True:
    sys.stdout.write("x" * 65536)
"""


def test_flooding_interactor_is_an_error(server: Server, client: httpx.Client) -> None:
    interactor = {"language": "python", "source": FLOODING_INTERACTOR}
    reference = {"tests": [{"stdin": "1\n"}], "interactor": interactor}
    (result,) = score(client, contest_item("import sys\nsys.stdin.read()", **reference))
    assert result["status"] == "error", result
    assert result["error"]["kind"] == "checker_error"
    assert_still_judging(server, client, SESSION_WORKERS)
