"""The Docker proxy's I/O: one request per connection, judged by a Policy, then piped.

Each client connection carries exactly one request. Its head and (JSON) body are read
and judged; an allowed request goes to the engine's socket with `Connection: close`, and
the engine's response is piped back as it comes (pull progress and archives stream) until
the engine closes. Clients see a server that closes after every response, which HTTP
allows and docker-py handles. Request bodies must have a Content-Length: docker-py
always sends one, and a chunked body could not be judged before it is forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from devlab.dockerproxy.policy import (
    STREAMED_BODY,
    Decision,
    EngineObject,
    Policy,
    Ref,
    Request,
    bad_request,
    decode_path,
    parse_body,
    parse_query,
    refuse,
    split_version,
    version_problem,
)

log = logging.getLogger("devlab.dockerproxy")

MAX_HEAD = 64 * 1024
MAX_JSON_BODY = 1024 * 1024
HEAD_TIMEOUT = 30.0  # seconds a client may take to send its request head and JSON body
CHUNK = 64 * 1024
# Hop-by-hop headers are this proxy's business, not the engine's (RFC 9110, 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


class Reply(Exception):
    """Answer the client with this status and message instead of forwarding."""

    def __init__(self, decision: Decision, head: Head | None = None) -> None:
        super().__init__(decision.reason)
        self.decision = decision
        self.head = head  # None when the request head could not be read

    def log_line(self, policy: str) -> str:
        request = f"{self.head.method} {self.head.target}" if self.head else "(unreadable)"
        return f"refused {request} ({policy} policy): {self.decision.reason}"


@dataclass(frozen=True)
class Head:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


def parse_head(data: bytes) -> Head:
    """The request line and headers; a head a strict HTTP/1.1 server might read
    differently (folded lines, spaces before the colon) is refused."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise Reply(bad_request("the request head is not ASCII")) from None
    lines = text.split("\r\n")
    # A bare CR or LF, or another control character, ends a line for some servers only.
    if any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for line in lines for c in line):
        raise Reply(bad_request("control characters in the request head"))
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not parts[1].startswith("/"):
        raise Reply(bad_request(f"malformed request line {lines[0]!r}"))
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name or "\t" in name:
            raise Reply(bad_request(f"malformed header line {line!r}"))
        headers.append((name, value.strip()))
    return Head(parts[0], parts[1], parts[2], headers)


def content_length(head: Head) -> int:
    if head.header("transfer-encoding"):
        raise Reply(
            Decision(False, "chunked request bodies are not supported: send Content-Length", 411)
        )
    if head.header("expect"):
        raise Reply(Decision(False, "Expect is not supported: send the body at once", 417))
    values = set(head.header("content-length"))
    if len(values) > 1 or not all(v.isdigit() for v in values):
        raise Reply(bad_request("a single numeric Content-Length is required"))
    return int(values.pop()) if values else 0


def response(decision: Decision, method: str) -> bytes:
    """A complete HTTP response with docker's error shape: {"message": ...}."""
    body = json.dumps({"message": decision.message}).encode() + b"\n"
    phrase = HTTPStatus(decision.status).phrase
    head = (
        f"HTTP/1.1 {decision.status} {phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return head if method == "HEAD" else head + body


@dataclass
class DockerProxy:
    """Serves one policy on one listening socket, forwarding to the engine's socket."""

    policy: Policy
    engine: str  # the engine's unix socket path

    async def serve(self, path: str) -> asyncio.Server:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a previous run in the same volume
        server = await asyncio.start_unix_server(self._handle, path=path, limit=MAX_HEAD)
        os.chmod(path, 0o600)  # the client containers' root only
        log.info("Serving the %s policy on %s", self.policy.name, path)
        return server

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head, request, length, body = await asyncio.wait_for(
                    self._read(reader), HEAD_TIMEOUT
                )
                decision = await self._decide(request)
                if not decision.allowed:
                    raise Reply(decision, head)
            except Reply as reply:
                if reply.decision.status == 403:
                    log.warning("%s", reply.log_line(self.policy.name))
                method = reply.head.method if reply.head else "GET"
                writer.write(response(reply.decision, method))
                await writer.drain()
                return
            await self._forward(head, decision.path or request.path, length, body, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away, or never sent a whole request
        except Exception:
            log.exception("Docker proxy error")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader) -> tuple[Head, Request, int, bytes | None]:
        """The request: its head, as the policy sees it, its length and its body (None
        when it is streamed)."""
        try:
            data = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise Reply(Decision(False, "request head too large", 431)) from None
        head = parse_head(data[:-4])
        try:
            return await self._read_request(head, reader)
        except Reply as reply:
            raise Reply(reply.decision, head) from None

    async def _read_request(
        self, head: Head, reader: asyncio.StreamReader
    ) -> tuple[Head, Request, int, bytes | None]:
        length = content_length(head)
        raw_path, _, raw_query = head.target.partition("?")
        prefix, rest = split_version(raw_path)
        path = decode_path(rest)
        query = parse_query(raw_query)
        problem = version_problem(prefix)
        if path is None:
            problem = f"path {rest!r} could be read two ways (encoded slash, dot segments)"
        if query is None:
            problem = "query strings with ';' are not accepted"
        if problem or path is None or query is None:
            raise Reply(refuse(problem))
        if head.method == "PUT" and STREAMED_BODY.fullmatch(path):
            # An archive into a container: piped to the engine once the request is allowed.
            return head, Request(head.method, path, query), length, None
        if length > MAX_JSON_BODY:
            raise Reply(Decision(False, f"body larger than {MAX_JSON_BODY} bytes", 413))
        body = await reader.readexactly(length)
        content_type = (head.header("content-type") or [""])[0].split(";")[0].strip().lower()
        if body.strip() and content_type != "application/json":
            raise Reply(refuse(f"{head.method} {path}: request bodies must be application/json"))
        try:
            parsed = parse_body(body)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
            raise Reply(bad_request(f"the body is not valid JSON: {exc}")) from None
        return head, Request(head.method, path, query, parsed), length, body

    async def _decide(self, request: Request) -> Decision:
        facts = {ref: await self._inspect(ref) for ref in self.policy.lookups(request)}
        return self.policy.decide(request, facts)

    async def _inspect(self, ref: Ref) -> EngineObject | None:
        """The engine's description of a container or network, or None if it has none."""
        kind, name = ref
        base = "/containers" if kind == "container" else "/networks"
        path = f"{base}/{quote(name, safe='')}" + ("/json" if kind == "container" else "")
        status, body = await self._engine_get(path)
        if status == 404:
            return None
        if status != 200:
            raise Reply(Decision(False, f"the engine answered {status} to GET {path}", 502))
        data: Mapping[str, Any] = json.loads(body)
        labels = (data.get("Config") or {}).get("Labels") if kind == "container" else None
        if kind == "network":
            labels = data.get("Labels")
        return EngineObject(data["Id"], str(data.get("Name", "")).lstrip("/"), labels or {})

    async def _engine_get(self, path: str) -> tuple[int, bytes]:
        """A GET on the engine; HTTP/1.0, so the body simply ends when the engine closes."""
        reader, writer = await asyncio.open_unix_connection(self.engine)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].split(b" ")
        if len(status_line) < 2 or not status_line[1].isdigit():
            raise Reply(Decision(False, f"the engine sent no HTTP answer to GET {path}", 502))
        return int(status_line[1]), body

    async def _forward(
        self,
        head: Head,
        path: str,
        length: int,
        body: bytes | None,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Send the request to the engine (as `path`, ids for names) and pipe the answer."""
        raw_path, sep, raw_query = head.target.partition("?")
        prefix, _ = split_version(raw_path)
        target = f"{prefix}{path}{sep}{raw_query}"
        named = {v.strip().lower() for c in head.header("connection") for v in c.split(",")}
        lines = [f"{head.method} {target} {head.version}"]
        lines += [
            f"{name}: {value}"
            for name, value in head.headers
            if name.lower() not in HOP_BY_HOP and name.lower() not in named
        ]
        if length or head.method in ("POST", "PUT"):
            lines.append(f"Content-Length: {length}")
        lines.append("Connection: close")
        engine_reader, engine_writer = await asyncio.open_unix_connection(self.engine)
        try:
            engine_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            if body is not None:
                engine_writer.write(body)
            else:  # a streamed archive: exactly Content-Length bytes, no more
                remaining = length
                while remaining:
                    chunk = await reader.read(min(CHUNK, remaining))
                    if not chunk:
                        raise asyncio.IncompleteReadError(b"", remaining)
                    engine_writer.write(chunk)
                    remaining -= len(chunk)
                    await engine_writer.drain()
            await engine_writer.drain()
            while chunk := await engine_reader.read(CHUNK):
                writer.write(chunk)
                await writer.drain()
        finally:
            engine_writer.close()
