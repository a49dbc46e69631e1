"""The language table: how each language is compiled and run, in one place.

Adding a language is a new row. ``compile`` and ``run`` are argv templates
(``{src}`` and ``{exe}`` are file names in the run's working directory);
``inline_python`` runs the program inside the forked fork-server interpreter,
without an exec (the fast path, ~2 ms a run).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LANGUAGES", "Language", "get_language"]


@dataclass(frozen=True, slots=True)
class Language:
    name: str
    aliases: tuple[str, ...]  # fenced code block tags
    source_file: str
    compile: tuple[str, ...] | None
    run: tuple[str, ...]
    inline_python: bool = False
    threads: bool = False  # the runtime needs threads (clone with CLONE_THREAD)
    memory_rlimit: bool = True  # RLIMIT_AS; V8 reserves far more address space than it uses
    compile_time_s: float = 30.0


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
        ),
        Language(
            name="javascript",
            aliases=("javascript", "js", "node", "nodejs"),
            source_file="main.js",
            compile=None,
            run=("/usr/bin/node", "--stack-size=65500", "main.js"),
            threads=True,
            memory_rlimit=False,
        ),
    )
}


def get_language(name: str) -> Language | None:
    """The language named ``name`` or one of its aliases (case-insensitive)."""
    key = name.strip().lower()
    if key in LANGUAGES:
        return LANGUAGES[key]
    return next((lang for lang in LANGUAGES.values() if key in lang.aliases), None)
