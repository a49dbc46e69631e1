"""The forkserver's warm-up must run cleanly: a failure there only logs, so test it here."""

from __future__ import annotations

import logging

import pytest

from referee.service.dispatch.warmup import warm_up


def test_warm_up_runs_every_case_without_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="referee.warmup"):
        warm_up()
    assert not caplog.records
