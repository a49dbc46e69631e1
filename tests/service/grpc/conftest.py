"""A real ``referee serve`` with gRPC on, reached over loopback by real grpcio clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import SERVER_ENV
from support import Server, start_server, stop_server

# Small stream limits so that flow control and capacity are cheap to reach.
GRPC_ENV = {
    **SERVER_ENV,
    "REFEREE_STREAM_MAX_IN_FLIGHT": "256",
    "REFEREE_GRPC_MAX_STREAMS": "4",
}


@pytest.fixture(scope="session")
def grpc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("grpc"), GRPC_ENV, grpc=True)
    yield srv
    stop_server(srv)
