"""An HTTP/1.1 server that holds under hostile traffic.

One event-loop thread reads and writes every connection (h11 parses); only a
complete request reaches the `workers` threads that answer it. So a client
that sends one byte every few seconds costs a buffer, not a thread, and it
has `request_timeout` for the whole request (headers and body), not per read.
Connections over `max_connections` get 503 and are closed at once: nothing
queues without bound. Whatever an answer raises becomes a 500 with a JSON
body and one log line (which the logging filter redacts), never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Callable, Optional

import h11

from .http_messages import BadRequest, HttpRequest, HttpResponse, error_response, shown

log = logging.getLogger("reconciler.http")

# Request line and headers together; GitHub's are about 1 KiB.
MAX_HEAD_BYTES = 16_384
_READ_CHUNK = 65_536
# How long a refused client may go on sending the body it was refused for.
LINGER_S = 2.0
_BUSY_BODY = b'{"error": "too many open connections; try again later"}\n'
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
         b"Content-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY))
App = Callable[[HttpRequest], HttpResponse]


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int
    request_timeout: float
    workers: int
    max_body_bytes: int


class _Refused(Exception):
    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


class BoundedHttpServer:
    """Serves `app` on host:port from start() until close(); the socket is bound in the constructor (OSError there)."""

    def __init__(self, app: App, host: str, port: int, limits: ServerLimits) -> None:
        self._app = app
        self._limits = limits
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family, backlog=min(limits.max_connections, 1024))
        self._pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="http")
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_loop_error)
        self._stopping: Optional[asyncio.Event] = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)
        self.open_connections = 0  # read and written on the loop thread only

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1]

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def close(self) -> None:
        if self._thread.is_alive() and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._socket.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self._socket)
        self._ready.set()
        await self._stopping.wait()
        server.close()
        connections = asyncio.all_tasks() - {asyncio.current_task()}
        for task in connections:
            task.cancel()
        if connections:
            await asyncio.wait(connections, timeout=5)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open_connections >= self._limits.max_connections:
            writer.write(_BUSY)
            writer.close()
            return
        self.open_connections += 1
        peer = _peer(writer)
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        try:
            while True:
                request = await self._next_request(connection, reader, writer, peer)
                if request is None:
                    break
                response = await asyncio.get_running_loop().run_in_executor(self._pool, self._answer, request)
                await self._send(connection, writer, response, request.method)
                if response.close or connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                    break
                connection.start_next_cycle()
        except (ConnectionError, TimeoutError, h11.ProtocolError, asyncio.CancelledError):
            pass  # the client left, stalled while reading the answer, or the server is stopping
        except Exception as error:  # noqa: BLE001 - one bad connection must not reach the loop's handler
            log.error("connection from %s failed: %s: %s", peer, type(error).__name__, error)
        finally:
            self.open_connections -= 1
            writer.close()

    async def _next_request(
        self, connection: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> Optional[HttpRequest]:
        """The next complete request, or None once the connection is done (an error answer already sent)."""
        try:
            async with asyncio.timeout(self._limits.request_timeout):
                return await self._receive(connection, reader, writer, peer)
        except TimeoutError:
            if connection.their_state is h11.IDLE and not connection.trailing_data[0]:
                return None  # an idle keep-alive connection: closed without a word
            refusal = error_response(HTTPStatus.REQUEST_TIMEOUT, f"the request took over {self._limits.request_timeout:g}s", close=True)
        except h11.RemoteProtocolError as error:
            status = error.error_status_hint if error.error_status_hint >= 400 else HTTPStatus.BAD_REQUEST
            refusal = error_response(status, f"malformed request: {error}", close=True)
        except _Refused as refused:
            refusal = refused.response
        body_unread = connection.their_state is h11.SEND_BODY
        await self._send(connection, writer, refusal, "")
        if body_unread:
            await _discard_unread(reader, writer)
        return None

    async def _receive(
        self, connection: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> Optional[HttpRequest]:
        head: Optional[h11.Request] = None
        body = bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(_READ_CHUNK))
            elif isinstance(event, h11.Request):
                head = event
                self._check_framing(head)
                if connection.they_are_waiting_for_100_continue:
                    writer.write(connection.send(h11.InformationalResponse(status_code=100, headers=[])))
            elif isinstance(event, h11.Data):
                body += event.data  # no more than the Content-Length checked above
            elif isinstance(event, h11.EndOfMessage) and head is not None:
                return HttpRequest(
                    method=head.method.decode("ascii", "replace"),
                    target=head.target.decode("utf-8", "replace"),
                    headers=tuple((name.decode("ascii").lower(), value) for name, value in head.headers),
                    body=bytes(body),
                    peer=peer,
                )
            else:  # ConnectionClosed, or a protocol switch nobody offered
                return None

    def _check_framing(self, head: h11.Request) -> None:
        # h11 caps a head that arrives in pieces; one that arrives whole is measured here.
        if len(head.target) + sum(len(name) + len(value) + 4 for name, value in head.headers) > MAX_HEAD_BYTES:
            raise _Refused(error_response(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, f"request head over {MAX_HEAD_BYTES} bytes", close=True))
        if head.http_version not in (b"1.0", b"1.1"):
            raise _Refused(error_response(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "HTTP/1.1 only", close=True))
        names = {name.lower() for name, _ in head.headers}
        if b"transfer-encoding" in names:
            raise _Refused(error_response(HTTPStatus.BAD_REQUEST, "Transfer-Encoding is not accepted: send the body with Content-Length", close=True))
        length = next((int(value) for name, value in head.headers if name == b"content-length"), None)
        if length is None and head.method in (b"POST", b"PUT", b"PATCH"):
            raise _Refused(error_response(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required", close=True))
        if length is not None and length > self._limits.max_body_bytes:
            # Never read: the answer goes out and the connection is closed.
            raise _Refused(error_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {self._limits.max_body_bytes} bytes", close=True))

    def _answer(self, request: HttpRequest) -> HttpResponse:
        """Runs on a worker thread: the app's answer, or a JSON error; never an exception."""
        try:
            response = self._app(request)
        except BadRequest as refused:
            response = refused.response()
        except Exception as error:  # noqa: BLE001 - a handler bug answers 500, the service stays up
            log.error("%s %s from %s failed: %s: %s", request.method, shown(request.path), request.peer, type(error).__name__, error)
            response = error_response(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error ({type(error).__name__}); the service log has the details")
        log.debug("%s %s from %s: %d", request.method, shown(request.path), request.peer, response.status)
        return response

    async def _send(self, connection: h11.Connection, writer: asyncio.StreamWriter, response: HttpResponse, method: str) -> None:
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body))), *response.headers]
        if response.close:
            headers.append(("Connection", "close"))
        try:
            data = connection.send(h11.Response(status_code=response.status, headers=headers, reason=response.reason.encode()))
            if method != "HEAD":
                data += connection.send(h11.Data(data=response.body))
            data += connection.send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            return  # the connection cannot carry an answer any more; it is closed
        writer.write(data)
        # A client that does not read its answer gets as long as a request may take.
        async with asyncio.timeout(self._limits.request_timeout):
            await writer.drain()


async def _discard_unread(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads what the client is still sending, for a moment: closing on unread data resets the
    connection, and the client would lose the answer (413) it has not read yet."""
    writer.write_eof()
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(LINGER_S):
            while await reader.read(_READ_CHUNK):
                pass


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) and len(address) >= 2 else "unknown"


def _loop_error(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    error = context.get("exception")
    detail = f"{type(error).__name__}: {error}" if error is not None else context.get("message", "")
    log.error("HTTP event loop: %s", detail)
