"""Shared fixtures: real ``referee serve`` processes reached over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cluster import Redis, start_redis, stop_redis
from support import Server, start_server, stop_server

# Small limits so that the limit tests stay cheap, a short item deadline so that
# the hostile-input tests finish quickly.
PLUGINS_DIR = str(Path(__file__).parent / "plugins")
SERVER_ENV = {
    "REFEREE_PLUGINS": "referee_test_verifiers",
    "PYTHONPATH": PLUGINS_DIR,
    "REFEREE_ITEM_TIMEOUT_S": "3",
    "REFEREE_HARD_GRACE_S": "1",
    "REFEREE_MAX_BATCH_ITEMS": "200",
    "REFEREE_MAX_RESPONSE_CHARS": "1100000",
    "REFEREE_MAX_BODY_BYTES": "4000000",
    "REFEREE_WORKER_MEMORY_LIMIT_MB": "1024",
}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("server"), SERVER_ENV)
    yield srv
    stop_server(srv)


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    """A real redis-server of our own on a free loopback port."""
    srv = start_redis(tmp_path_factory.mktemp("redis"))
    yield srv
    stop_redis(srv)
