"""Strict readers of the headers the endpoints act on; anything malformed is a 400 that names the header."""

from __future__ import annotations

import hmac
import ipaddress
import re
from http import HTTPStatus
from typing import Iterable, Optional

from .http_messages import BadRequest, HttpRequest

_SIGNATURE = re.compile(rb"sha256=([0-9a-fA-F]{64})")
_EVENT = re.compile(rb"[a-z_]{1,64}")
# GitHub sends a GUID; any short token of letters, digits and dashes is taken.
_DELIVERY = re.compile(rb"[A-Za-z0-9-]{1,100}")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def github_signature(request: HttpRequest) -> Optional[bytes]:
    """The 32-byte HMAC X-Hub-Signature-256 claims, or None when it is absent; 400 when it is not `sha256=` + 64 hex."""
    header = request.header("x-hub-signature-256")
    if header is None:
        return None
    match = _SIGNATURE.fullmatch(header.strip())
    if match is None:
        raise BadRequest("malformed X-Hub-Signature-256: expected `sha256=` and 64 hex digits")
    return bytes.fromhex(match.group(1).decode("ascii"))


def github_event(request: HttpRequest) -> str:
    header = request.header("x-github-event")
    if header is None or not _EVENT.fullmatch(header.strip()):
        raise BadRequest("missing or malformed X-GitHub-Event: expected an event name such as push")
    return header.strip().decode("ascii")


def github_delivery(request: HttpRequest) -> Optional[str]:
    """The delivery's id, None when absent (the body's digest still tells a replay); 400 when malformed."""
    header = request.header("x-github-delivery")
    if header is None:
        return None
    if not _DELIVERY.fullmatch(header.strip()):
        raise BadRequest("malformed X-GitHub-Delivery: expected the delivery's GUID")
    return header.strip().decode("ascii")


def host_name(request: HttpRequest) -> str:
    """The Host header's name or address, lower-case, without its port; 400 when absent or not ASCII."""
    header = request.header("host")
    try:
        text = header.decode("ascii").strip().lower() if header is not None else ""
    except UnicodeDecodeError:
        text = ""
    if text.startswith("["):
        name, bracket, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
        valid = bool(bracket) and (not port or port.isdecimal())
    else:
        name, _, port = text.partition(":")
        valid = ":" not in port and (not port or port.isdecimal())
    if not name or not valid:
        raise BadRequest("missing or malformed Host header")
    return name.rstrip(".")


def check_host(request: HttpRequest, allowed: frozenset[str]) -> None:
    name = host_name(request)
    if name not in allowed:
        raise BadRequest(f"this service does not answer for host {name!r}; add it to http.allowed_hosts", HTTPStatus.MISDIRECTED_REQUEST)


def allowed_host_names(listen_host: str, configured: Iterable[str]) -> frozenset[str]:
    """The configured names, or else the listen host and the loopback names."""
    names = set(configured) or {listen_host.lower(), *LOOPBACK_NAMES}
    return frozenset(name.strip("[]").lower() for name in names)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bearer(request: HttpRequest, token: str) -> None:
    """401 unless `Authorization: Bearer <token>`, compared in constant time."""
    header = request.header("authorization") or b""
    if not hmac.compare_digest(header.strip(), b"Bearer " + token.encode()):
        raise BadRequest("this endpoint needs `Authorization: Bearer <http.status_token>`", HTTPStatus.UNAUTHORIZED,
                         headers=(("WWW-Authenticate", 'Bearer realm="reconciler"'),))
