"""Tiny asyncio HTTP endpoint shared by every service: ``/metrics``, ``/healthz`` and ``/readyz``.

``/healthz`` answers 200 while the process runs; ``/readyz`` answers 200 only while the service's
readiness callable returns True (e.g. connected to its broker and Kafka); ``/metrics`` is the
Prometheus text exposition of the default registry.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from contracts.settings import MetricsConfig

__all__ = ["HealthServer", "ListeningServer"]

logger = logging.getLogger(__name__)


class ListeningServer:
    """An asyncio TCP server a service starts and stops; subclasses answer in ``_handle``."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int | None:
        """The bound port, or None when not serving."""
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def _listen(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._handle, host, port, ssl=tls)

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class HealthServer(ListeningServer):
    """Serves health and metrics on ``config.host:config.port``; port 0 disables it.

    Runs on the caller's event loop; ``start``/``stop`` are idempotent.
    """

    def __init__(
        self,
        config: MetricsConfig,
        ready: Callable[[], bool],
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__()
        self._config = config
        self._ready = ready
        # A service may keep its metrics in its own registry (several instances in one process).
        self._registry = registry or REGISTRY

    async def start(self) -> None:
        """Start listening unless disabled or already started."""
        if self._server is not None or self._config.port == 0:
            return
        await self._listen(self._config.host, self._config.port)
        logger.info("health endpoint on http://%s:%s", self._config.host, self.port)

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            # Drain the headers; the endpoints take no input.
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            status, ctype, body = self._respond(path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _respond(self, path: str) -> tuple[str, str, bytes]:
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._registry)
        if path == "/healthz":
            return "200 OK", "text/plain", b"ok\n"
        if path == "/readyz":
            if self._ready():
                return "200 OK", "text/plain", b"ready\n"
            return "503 Service Unavailable", "text/plain", b"not ready\n"
        return "404 Not Found", "text/plain", b"not found\n"
