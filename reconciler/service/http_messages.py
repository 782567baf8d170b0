"""A complete HTTP request as the endpoints see it, and the answer they give."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Optional


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # as sent, decoded leniently: it is only matched and echoed, never trusted
    headers: tuple[tuple[str, bytes], ...]  # lower-case names, raw values (they may hold any byte)
    body: bytes
    peer: str

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def header(self, name: str) -> Optional[bytes]:
        """The value of a header sent once; None when absent. A repeated header is a BadRequest."""
        values = [value for key, value in self.headers if key == name]
        if len(values) > 1:
            raise BadRequest(f"{name} is sent {len(values)} times; send it once")
        return values[0] if values else None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False  # the connection ends after this answer

    @property
    def reason(self) -> str:
        return HTTPStatus(self.status).phrase


def json_response(status: int, data: Any, close: bool = False, headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    body = json.dumps(data, sort_keys=True, ensure_ascii=True).encode() + b"\n"
    return HttpResponse(status, body, headers=headers, close=close)


def error_response(status: int, message: str, close: bool = False, headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    return json_response(status, {"error": message}, close=close, headers=headers)


class BadRequest(Exception):
    """A request the endpoints refuse before acting on it; `status` defaults to 400."""

    def __init__(self, message: str, status: int = HTTPStatus.BAD_REQUEST, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.status = int(status)
        self.headers = headers

    def response(self) -> HttpResponse:
        return error_response(self.status, self.message, close=self.status >= 500, headers=self.headers)


def shown(text: str, limit: int = 120) -> str:
    """Client-supplied text cut short before it is echoed or logged."""
    return text if len(text) <= limit else text[:limit] + "..."
