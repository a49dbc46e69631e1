"""Cheap items never wait behind slow code items: code runs in a lane of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import Server, start_server, stop_server

SLEEP_S = 30  # far longer than judging a math item can take, however loaded the machine


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # One worker per lane; stopping the server ends the sleeping programs.
    env = {
        "REFEREE_SHUTDOWN_GRACE_S": "1",
        "REFEREE_ITEM_TIMEOUT_S": "2",
        "REFEREE_HARD_GRACE_S": "1",
    }
    srv = start_server(tmp_path_factory.mktemp("lanes"), env, workers=1)
    yield srv
    stop_server(srv)


def sleeping_code_item() -> dict[str, Any]:
    program = f"import time\ntime.sleep({SLEEP_S})\nprint(int(input()) * 2)\n"
    reference = {
        "language": "python",
        "tests": [{"input": "21\n", "output": "42\n"}],
        "time_limit_s": SLEEP_S + 10,
    }
    return {"response": f"```python\n{program}```", "reference": reference}


async def _math_while_code_sleeps(url: str) -> tuple[dict[str, Any], bool]:
    async with httpx.AsyncClient(base_url=url, timeout=SLEEP_S * 3) as client:
        code = asyncio.create_task(
            client.post("/score", json={"verifier": "code", "items": [sleeping_code_item()] * 2})
        )
        await asyncio.sleep(0.5)  # the code items are taken by the code lane first
        math = await client.post(
            "/score",
            json={"verifier": "math", "items": [{"response": "\\boxed{12}", "reference": "12"}]},
        )
        still_sleeping = not code.done()
        code.cancel()
        return math.json()["results"][0], still_sleeping


def test_a_math_item_is_judged_while_code_items_sleep(server: Server) -> None:
    result, code_still_running = asyncio.run(_math_while_code_sleeps(server.url))
    assert result["outcome"] == "correct"
    # With one shared lane the math item would have waited for the programs.
    assert code_still_running
