"""The objection HTTP API: a small asyncio HTTP/1.1 server (JSON in and out, TLS by default).

Authentication: ``Authorization: Bearer <unit token>`` (issued by ``objections token issue``).
Without a token a client is the public: it may submit objections on open data (rate-limited per
client address) and follow a public case by its id. A unit with a share grant on a personal dataset
also fetches the share keys of its sealed records here (``POST /share-keys``). Requests are served one at a time on one
database connection, which keeps each operation a plain transaction. After a decision that
corrects or withdraws a record, every pending correction is published to Kafka.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ValidationError

from processors.objections.config import ObjectionsConfig
from processors.objections.exceptions import NotAllowed, ObjectionError, RateLimited
from processors.objections.models import (
    AnswerRequest,
    DecisionRequest,
    State,
    SubmitRequest,
)
from processors.objections.openapi import openapi_document
from processors.objections.service import PUBLIC, Objections, Principal
from processors.objections.store import authenticate
from processors.share.key_release import KeyReleaseRefused, ShareKeyRequest, release_share_keys
from runtime.http_endpoint import ListeningServer

__all__ = ["ObjectionServer", "RateLimiter"]

logger = logging.getLogger(__name__)
_CASE = re.compile(r"^/cases/([0-9a-f]{32})(?:/(decision|answer|close))?$")
_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error"}  # fmt: skip


class RateLimiter:
    """Token bucket per client: ``per_minute`` submissions, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_minute / 60.0
        self._cap = float(per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> bool:
        """Take one token for ``client``; False when its bucket is empty."""
        now = self._clock()
        tokens, at = self._buckets.get(client, (self._cap, now))
        tokens = min(self._cap, tokens + (now - at) * self._rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return False
        self._buckets[client] = (tokens - 1.0, now)
        if len(self._buckets) > 10000:  # forget full buckets so the table cannot grow unbounded
            self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self._cap}
        return True


class ObjectionServer(ListeningServer):
    """Serves the API; ``after_decision`` runs after a decision (publication of corrections)."""

    def __init__(
        self,
        objections: Objections,
        config: ObjectionsConfig,
        after_decision: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        super().__init__()
        self._obj = objections
        self._config = config
        self._after = after_decision
        self._limiter = RateLimiter(config.public_per_minute)
        self._lock = asyncio.Lock()

    def _tls(self) -> ssl.SSLContext | None:
        cfg = self._config
        if cfg.tls_cert is not None and cfg.tls_key is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
            return ctx
        if not cfg.insecure_plaintext:
            msg = (
                "the objection API needs SENSEGATE_OBJECTIONS__TLS_CERT and __TLS_KEY "
                "(or SENSEGATE_OBJECTIONS__INSECURE_PLAINTEXT=true for development)"
            )
            raise NotAllowed(msg)
        logger.warning("objection API serves PLAIN HTTP: development only, tokens travel in clear")
        return None

    async def start(self) -> None:
        """Start listening."""
        await self._listen(self._config.host, self._config.port, self._tls())
        logger.info("objection API on %s:%s", self._config.host, self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status, payload = 500, {"error": "internal error"}
        try:
            method, target, headers, body = await self._read(reader)
            peer = writer.get_extra_info("peername")
            client = str(peer[0]) if peer else "?"
            async with self._lock:
                status, payload = await self._route(method, target, headers, body, client)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            return
        except _HttpError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except Exception:  # one bad request must not stop the server; it is logged
            logger.exception("objection API request failed")
        data = json.dumps(payload, ensure_ascii=False, default=str).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n"
        )
        try:
            writer.write(head.encode() + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes]:
        line = await asyncio.wait_for(reader.readline(), 10)
        parts = line.decode("latin-1").split()
        if len(parts) != 3:
            raise _HttpError(400, "bad request line")
        headers: dict[str, str] = {}
        while True:
            raw = await asyncio.wait_for(reader.readline(), 10)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
            if len(headers) > 100:
                raise _HttpError(400, "too many headers")
        length = int(headers.get("content-length", "0") or 0)
        if length > self._config.max_body_bytes:
            raise _HttpError(413, "body too large")
        body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
        return parts[0].upper(), parts[1], headers, body

    async def _principal(self, headers: dict[str, str]) -> Principal | None:
        auth = headers.get("authorization", "")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        unit = await authenticate(self._obj.conn, token.strip()) if scheme == "Bearer" else None
        if unit is None:
            raise _HttpError(401, "invalid or revoked token")
        return Principal(unit)

    async def _route(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client: str
    ) -> tuple[int, Any]:
        url = urlsplit(target)
        now = datetime.now(UTC)
        if url.path == "/openapi.json" and method == "GET":
            return 200, openapi_document()
        if url.path == "/healthz":
            return 200, {"status": "ok"}
        who = await self._principal(headers)
        if url.path == "/share-keys":
            return await self._share_keys(method, who, body, now)
        try:
            if url.path == "/cases":
                if method == "POST":
                    if who is None and not self._limiter.allow(client):
                        raise RateLimited("too many objections from this client; retry later")  # noqa: EM101
                    req = _parse(SubmitRequest, body)
                    return 201, (await self._obj.submit(who or PUBLIC, req, now)).model_dump(
                        mode="json"
                    )
                if method == "GET":
                    if who is None:
                        raise _HttpError(401, "listing needs a unit token")
                    query = parse_qs(url.query)
                    state = query.get("state", [None])[0]
                    cases = await self._obj.list(
                        who, now, overdue_only=query.get("overdue", ["false"])[0] == "true",
                        state=State(state) if state else None,
                    )  # fmt: skip
                    return 200, [c.model_dump(mode="json") for c in cases]
                raise _HttpError(405, "method not allowed")
            match = _CASE.match(url.path)
            if match is None:
                raise _HttpError(404, "not found")
            case_id, action = match.groups()
            if action is None and method == "GET":
                return 200, (await self._obj.show(who or PUBLIC, case_id, now)).model_dump(
                    mode="json"
                )
            if method != "POST" or action is None:
                raise _HttpError(405, "method not allowed")
            if who is None:
                raise _HttpError(401, "this step needs a unit token")
            if action == "decision":
                view = await self._obj.decide(who, case_id, _parse(DecisionRequest, body), now)
                if self._after is not None and view.correction_id:
                    await self._after()
            elif action == "answer":
                view = await self._obj.answer(who, case_id, _parse(AnswerRequest, body), now)
            else:
                reason = json.loads(body or b"{}").get("reason", "closed") if body else "closed"
                view = await self._obj.close(who, case_id, str(reason), now)
            return 200, view.model_dump(mode="json")
        except ObjectionError as exc:
            return exc.status, {"error": str(exc)}


    async def _share_keys(
        self, method: str, who: Principal | None, body: bytes, now: datetime
    ) -> tuple[int, Any]:
        if method != "POST":
            raise _HttpError(405, "method not allowed")
        if who is None or who.unit is None:
            raise _HttpError(401, "share keys need a unit token")
        request = _parse(ShareKeyRequest, body)
        try:
            released = await release_share_keys(self._obj.conn, who.unit, request, now)
        except KeyReleaseRefused as exc:
            return exc.status, {"error": str(exc)}
        return 200, released.model_dump(mode="json")


class _HttpError(ObjectionError):
    """A request the HTTP layer refuses before any operation runs."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_M = TypeVar("_M", bound=BaseModel)


def _parse(model: type[_M], body: bytes) -> _M:
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise _HttpError(400, errors) from exc
