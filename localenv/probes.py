"""Quick HTTP(S) probes over TCP or a unix socket; every call has a timeout."""

import http.client
import socket
import ssl
import urllib.error
import urllib.request

PROBE_TIMEOUT = 2


def http_status(url: str, context: ssl.SSLContext | None = None, method: str = "GET",
                headers: dict | None = None, timeout: float = PROBE_TIMEOUT) -> int | None:
    """The HTTP status URL answers with, or None when nothing answers."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, http.client.HTTPException):
        return None


def insecure_context() -> ssl.SSLContext:
    """For health endpoints served with a component's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def unix_http_status(socket_path: str, path: str, timeout: float = PROBE_TIMEOUT) -> int | None:
    connection = _UnixConnection(socket_path, timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
