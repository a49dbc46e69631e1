"""The language table: how each language is compiled and run, in one place.

Adding a language is a new row. ``compile`` and ``run`` are argv templates
(``{memory_mb}`` in ``run`` is the run's memory limit); ``inline_python``
runs the program in an interpreter forked by the jail's zygote, without an exec
(the fast path, ~2 ms a run).

Memory: ``memory_rlimit`` names the rlimit that holds a runtime to its limit.
RLIMIT_AS suits CPython and native programs; V8 reserves gigabytes of address
space it never touches (PROT_NONE), which RLIMIT_DATA does not count while it
does count what V8 commits and node's off-heap buffers. Node needs ~40 MiB of
data to start (it hangs, not fails, below ~32 MiB), so its data limit is the
run's limit plus ``memory_extra_mb``; the fork server also classifies any run
whose peak RSS passed the limit as ``memory_limit``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LANGUAGES", "Language", "get_language"]


# JVM flags that keep its own reservations small (it would size them from the host).
_JVM_SMALL = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:CompressedClassSpaceSize=64m",
    "-XX:MaxMetaspaceSize=128m",
    "-Xshare:auto",
)
_JVM_SMALL_J = tuple(f"-J{flag}" for flag in (*_JVM_SMALL, "-Xmx512m"))


@dataclass(frozen=True, slots=True)
class Language:
    name: str
    aliases: tuple[str, ...]  # fenced code block tags
    source_file: str
    compile: tuple[str, ...] | None
    run: tuple[str, ...]
    inline_python: bool = False
    threads: bool = False  # the runtime needs threads (clone with CLONE_THREAD)
    memory_rlimit: str = "as"  # "as" (RLIMIT_AS), "data" (RLIMIT_DATA) or "none"
    memory_extra_mb: int = 0  # runtime overhead allowed above the limit by the rlimit
    compile_time_s: float = 30.0
    # Files the language needs in the sandbox (checked before compiling: a missing
    # toolchain is the server's fault, never the program's compile error).
    toolchain: tuple[str, ...] = ()
    # The compile command contests use (``compile_flags: "contest"``, checkers, interactors).
    contest_compile: tuple[str, ...] | None = None

    def run_argv(self, memory_mb: int) -> list[str]:
        """The run command for a run limited to ``memory_mb``."""
        return [arg.replace("{memory_mb}", str(memory_mb)) for arg in self.run]


LANGUAGES: dict[str, Language] = {
    lang.name: lang
    for lang in (
        Language(
            name="python",
            aliases=("python", "py", "python3"),
            source_file="main.py",
            compile=None,
            run=("/usr/bin/python3", "-I", "main.py"),
            inline_python=True,
        ),
        Language(
            name="cpp",
            aliases=("cpp", "c++", "cc", "cxx"),
            source_file="main.cpp",
            compile=("/usr/bin/g++", "-O2", "-std=gnu++17", "-pipe", "-o", "main", "main.cpp"),
            run=("./main",),
            toolchain=("/usr/bin/g++",),
            contest_compile=(
                "/usr/bin/g++",
                "-O2",
                "-std=c++17",
                "-DONLINE_JUDGE",
                "-pipe",
                "-o",
                "main",
                "main.cpp",
            ),
        ),
        Language(
            name="javascript",
            aliases=("javascript", "js", "node", "nodejs"),
            source_file="main.js",
            compile=None,
            run=(
                "/usr/bin/node",
                "--stack-size=65500",
                "--max-old-space-size={memory_mb}",
                "main.js",
            ),
            threads=True,
            memory_rlimit="data",
            memory_extra_mb=64,
        ),
        Language(
            name="c",
            aliases=("c", "h"),
            source_file="main.c",
            compile=("/usr/bin/gcc", "-O2", "-std=gnu11", "-pipe", "-o", "main", "main.c", "-lm"),
            run=("./main",),
            toolchain=("/usr/bin/gcc",),
            contest_compile=(
                "/usr/bin/gcc",
                "-O2",
                "-std=gnu11",
                "-DONLINE_JUDGE",
                "-pipe",
                "-o",
                "main",
                "main.c",
                "-lm",
            ),
        ),
        Language(
            name="java",
            aliases=("java",),
            source_file="Main.java",
            # The JVM sizes its heap and reservations from the machine: held to the
            # run's limit by -Xmx, and to the rest by RLIMIT_DATA plus the peak-RSS check.
            compile=("/usr/bin/javac", *_JVM_SMALL_J, "-encoding", "UTF-8", "Main.java"),
            run=(
                "/usr/bin/java",
                *_JVM_SMALL,
                "-Xmx{memory_mb}m",
                "-Xss16m",
                "Main",
            ),
            threads=True,
            memory_rlimit="data",
            memory_extra_mb=192,
            compile_time_s=60.0,
            toolchain=("/usr/bin/javac", "/usr/bin/java"),
        ),
        Language(
            name="go",
            aliases=("go", "golang"),
            source_file="main.go",
            compile=(
                "/usr/bin/env",
                "GOCACHE=/tmp/.gocache",
                "GOPATH=/tmp/.gopath",
                "HOME=/tmp",
                "CGO_ENABLED=0",
                "GOFLAGS=-mod=mod",
                "GO111MODULE=off",
                "/usr/bin/go",
                "build",
                "-o",
                "main",
                "main.go",
            ),
            run=("/usr/bin/env", "GOMAXPROCS=1", "GOGC=50", "./main"),
            threads=True,
            memory_rlimit="data",
            memory_extra_mb=32,
            compile_time_s=60.0,
            toolchain=("/usr/bin/go",),
        ),
        Language(
            name="rust",
            aliases=("rust", "rs"),
            source_file="main.rs",
            compile=("/usr/bin/rustc", "--edition=2021", "-O", "-o", "main", "main.rs"),
            run=("./main",),
            compile_time_s=60.0,
            toolchain=("/usr/bin/rustc",),
        ),
    )
}


def get_language(name: str) -> Language | None:
    """The language named ``name`` or one of its aliases (case-insensitive)."""
    key = name.strip().lower()
    if key in LANGUAGES:
        return LANGUAGES[key]
    return next((lang for lang in LANGUAGES.values() if key in lang.aliases), None)
