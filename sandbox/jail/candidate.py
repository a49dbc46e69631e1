"""Entry point of a candidate process in a function-call test: a fresh interpreter.

``python3 -I candidate.py RFD WFD ENTRY_POINT`` in the run's working directory:
runs ``main.py`` and answers calls on the two pipe fds (see harness.py).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from referee.sandbox.jail import harness
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import harness


def main() -> None:
    rfd, wfd, entry_point = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    del sys.path[0]  # the program imports from its own directory, not ours
    with open("main.py", encoding="utf-8") as f:
        source = f.read()
    sys.argv = ["main.py"]
    harness.serve_candidate(compile(source, "main.py", "exec"), entry_point, rfd, wfd)


if __name__ == "__main__":
    main()
