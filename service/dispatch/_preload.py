"""Imported by the worker forkserver (``set_forkserver_preload``): warms it up.

Importing this module runs the warm-up on purpose; nothing else imports it. A
failing warm-up only costs speed, so it is logged and never stops the server.
"""

from __future__ import annotations

import logging

from referee.service.dispatch.warmup import warm_up

try:
    warm_up()
except Exception:  # pragma: no cover - defensive: the forkserver must start
    logging.getLogger("referee.warmup").warning("warm-up failed", exc_info=True)
