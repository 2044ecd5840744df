"""The shared health endpoint answers readiness from its callable."""

from __future__ import annotations

import asyncio

from contracts.settings import MetricsConfig
from runtime.http_endpoint import HealthServer
from tests.fixtures.ports import free_port


async def _get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_readyz_follows_callable_and_metrics_served() -> None:
    ready = {"ok": False}
    async with HealthServer(MetricsConfig(port=0), lambda: True) as disabled:
        assert disabled.port is None
    # Port 0 disables the endpoint, so the test binds a free ephemeral port explicitly.
    server = HealthServer(MetricsConfig(host="127.0.0.1", port=free_port()), lambda: ready["ok"])
    async with server:
        assert server.port is not None
        assert (await _get(server.port, "/healthz"))[0] == 200
        assert (await _get(server.port, "/readyz"))[0] == 503
        ready["ok"] = True
        assert (await _get(server.port, "/readyz"))[0] == 200
        status, body = await _get(server.port, "/metrics")
        assert status == 200
        assert b"python_info" in body or b"process_" in body or b"# HELP" in body
        assert (await _get(server.port, "/nope"))[0] == 404
