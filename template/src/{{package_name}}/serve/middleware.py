"""ASGI middleware, outermost first: request log and metrics, API key, body size limit.

Plain ASGI rather than Starlette's BaseHTTPMiddleware: the body limit counts bytes as they
arrive, so an oversized body is refused without being read (or parsed) whole.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import Metrics

request_log = logging.getLogger(__name__.rpartition(".")[0] + ".requests")

# Routes that answer without a key: probes must not need a secret.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
# An incoming request id is kept when it is a sane token, else a new one is made.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


async def send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestLogMiddleware:
    """One JSON log line and the metrics of each request; keeps or makes its X-Request-ID."""

    def __init__(self, app: ASGIApp, metrics: Metrics, queue_depth: Callable[[], int]) -> None:
        self.app = app
        self.metrics = metrics
        self.queue_depth = queue_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            # The route's template (/predict), never the raw path: bounded label values.
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(seconds)
            self.metrics.queue_depth.set(self.queue_depth())
            record = {
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "latency_ms": round(seconds * 1000, 2),
            }
            batch_size = scope["state"].get("batch_size")
            if batch_size is not None:
                record["batch_size"] = batch_size
            request_log.info(json.dumps(record))


class ApiKeyMiddleware:
    """With a key set, every route but the probes needs "Authorization: Bearer <key>".

    "X-API-Key: <key>" is accepted too, for proxies that use Authorization themselves (a protected
    Hugging Face Inference Endpoint takes the caller's HF token there, and may pass it on).
    """

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if self._holds_key(dict(scope["headers"])):
            await self.app(scope, receive, send)
            return
        await send_json(
            send,
            401,
            {
                "detail": "missing or wrong API key: send the header 'Authorization: Bearer <key>'"
                " (or 'X-API-Key: <key>')"
            },
            [(b"www-authenticate", b"Bearer")],
        )

    def _holds_key(self, headers: dict[bytes, bytes]) -> bool:
        scheme, _, bearer = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() != b"bearer":
            bearer = b""
        # compare_digest takes as long for a near miss as for a far one: no timing oracle. Both
        # headers are compared every time, so which one was sent does not show in the timing.
        by_bearer = hmac.compare_digest(bearer.strip(), self.key)
        by_header = hmac.compare_digest(headers.get(b"x-api-key", b"").strip(), self.key)
        return by_bearer or by_header


class BodyTooLargeError(HTTPException):
    """An HTTPException, so that FastAPI's body reading passes it on as it is (a 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes (serve.max_body_bytes)")


class BodyLimitMiddleware:
    """Refuses a body over `limit` bytes: by its Content-Length at once, else while it streams."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await send_json(send, 413, {"detail": BodyTooLargeError(self.limit).detail}, [])
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLargeError(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError as error:
            # A route that reads the body itself lets it through; answer unless it answered.
            if started:
                raise
            await send_json(send, 413, {"detail": error.detail}, [])
