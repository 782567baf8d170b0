"""The strict header readers, the replay memory and the `http:` config section, without a server."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from reconciler.service.delivery_log import DeliveryLog
from reconciler.service.github_webhook import signature_matches
from reconciler.service.http_messages import BadRequest, HttpRequest
from reconciler.service.request_checks import (
    allowed_host_names,
    check_bearer,
    check_host,
    github_delivery,
    github_event,
    github_signature,
    host_name,
    is_loopback,
)
from reconciler.settings import ConfigError, load_config
from testsupport.reconciler_testing import PROJECT_DIR, write_config


def request_with(*headers: tuple[str, bytes]) -> HttpRequest:
    return HttpRequest("POST", "/hooks/github", headers, b"{}", "127.0.0.1:1")


def test_a_well_formed_signature_is_its_digest_and_matches_only_its_body():
    digest = hmac.new(b"s3cret-value", b"{}", hashlib.sha256).digest()

    for spelling in (digest.hex(), digest.hex().upper(), f" {digest.hex()} "):
        claimed = github_signature(request_with(("x-hub-signature-256", f"sha256={spelling.strip()}".encode())))
        assert claimed == digest
    assert signature_matches("s3cret-value", b"{}", digest)
    assert not signature_matches("s3cret-value", b"{ }", digest)
    assert not signature_matches("other-secret", b"{}", digest)
    assert not signature_matches("s3cret-value", b"{}", None)
    assert github_signature(request_with()) is None


@pytest.mark.parametrize("value", [
    b"", b"sha256=", b"sha1=" + b"a" * 40, b"SHA256=" + b"a" * 64, b"sha256=" + b"a" * 65,
    b"sha256=" + b"\xd9\xa1" * 32, "sha256=".encode() + "\u0661".encode() * 64, b"sha256=" + b"a" * 63 + b"\x00",
])
def test_a_malformed_signature_is_a_bad_request(value):
    with pytest.raises(BadRequest, match="malformed X-Hub-Signature-256") as raised:
        github_signature(request_with(("x-hub-signature-256", value)))
    assert raised.value.status == 400


def test_a_header_sent_twice_is_a_bad_request():
    signature = b"sha256=" + b"a" * 64
    with pytest.raises(BadRequest, match="x-hub-signature-256 is sent 2 times"):
        github_signature(request_with(("x-hub-signature-256", signature), ("x-hub-signature-256", signature)))


@pytest.mark.parametrize("value, expected", [(b"push", "push"), (b" pull_request ", "pull_request"), (b"issue_comment", "issue_comment")])
def test_event_names_are_read(value, expected):
    assert github_event(request_with(("x-github-event", value))) == expected


@pytest.mark.parametrize("value", [b"", b"Push", b"push\xc2\xa0", b"p" * 65, "pull_r\u00e9quest".encode()])
def test_odd_event_names_are_bad_requests(value):
    with pytest.raises(BadRequest, match="X-GitHub-Event"):
        github_event(request_with(("x-github-event", value)))


def test_delivery_ids_are_guid_like_tokens():
    assert github_delivery(request_with(("x-github-delivery", b"72d3162e-cc78-11e3-81ab-4c9367dc0958"))) == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    for value in (b"", b"a b", b"x" * 101, "\u00e9t\u00e9".encode(), b"../etc"):
        with pytest.raises(BadRequest, match="X-GitHub-Delivery"):
            github_delivery(request_with(("x-github-delivery", value)))
    assert github_delivery(request_with()) is None


@pytest.mark.parametrize("value, expected", [
    (b"Hooks.Example.com", "hooks.example.com"), (b"hooks.example.com:8099", "hooks.example.com"),
    (b"[::1]:8099", "::1"), (b"[::1]", "::1"), (b"127.0.0.1:1", "127.0.0.1"), (b"example.com.", "example.com"),
])
def test_host_names_lose_their_port_and_case(value, expected):
    assert host_name(request_with(("host", value))) == expected


@pytest.mark.parametrize("value", [b"", b":8099", b"ex\xc3\xa4mple.com", b"a:b:c", b"[::1", b"host:port", b"[::1]x"])
def test_odd_host_headers_are_bad_requests(value):
    with pytest.raises(BadRequest, match="Host") as raised:
        host_name(request_with(("host", value)))
    assert raised.value.status == 400


def test_hosts_outside_the_allowed_names_are_misdirected():
    allowed = allowed_host_names("0.0.0.0", ["hooks.example.com"])
    check_host(request_with(("host", b"hooks.example.com:443")), allowed)
    with pytest.raises(BadRequest) as raised:
        check_host(request_with(("host", b"localhost")), allowed)
    assert raised.value.status == 421
    assert allowed_host_names("10.1.2.3", []) == {"10.1.2.3", "localhost", "127.0.0.1", "::1"}


def test_loopback_listeners_are_told_apart():
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "10.0.0.1", "hooks.example.com"))


def test_the_bearer_token_must_match_exactly():
    check_bearer(request_with(("authorization", b"Bearer tok-123456")), "tok-123456")
    for value in (b"Bearer tok-12345", b"bearer tok-123456", b"tok-123456", b"Bearer tok-123456x", "Bearer t\u00f6k".encode()):
        with pytest.raises(BadRequest) as raised:
            check_bearer(request_with(("authorization", value)), "tok-123456")
        assert raised.value.status == 401 and ("WWW-Authenticate", 'Bearer realm="reconciler"') in raised.value.headers
    with pytest.raises(BadRequest):
        check_bearer(request_with(), "tok-123456")


def test_deliveries_are_remembered_for_the_window_then_forgotten(tmp_path: Path):
    now = [1_000_000.0]
    log = DeliveryLog(tmp_path / "state" / "deliveries.sqlite", window_s=3600, clock=lambda: now[0])

    assert log.first_time("delivery:a", "body:1")
    assert not log.first_time("delivery:a", "body:2"), "the same delivery id"
    assert not log.first_time("delivery:b", "body:1"), "the same body under another id"
    assert log.first_time("delivery:b", "body:2"), "a refused replay is not remembered itself"
    now[0] += 3601
    assert log.first_time("delivery:a", "body:1"), "after the window"
    log.forget("delivery:a", "body:1")
    assert log.first_time("delivery:a", "body:1"), "a forgotten delivery is taken again"
    log.close()
    assert (tmp_path / "state" / "deliveries.sqlite").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700


def test_the_delivery_memory_keeps_at_most_its_capacity(tmp_path: Path):
    log = DeliveryLog(tmp_path / "deliveries.sqlite", capacity=10)
    for number in range(25):
        assert log.first_time(f"delivery:{number}")

    assert log.first_time("delivery:0"), "the oldest were dropped to stay within the capacity"
    assert not log.first_time("delivery:24")
    log.close()


def test_an_existing_loose_delivery_file_is_made_owner_only(tmp_path: Path):
    path = tmp_path / "deliveries.sqlite"
    path.touch(mode=0o644)
    path.chmod(0o644)
    DeliveryLog(path).close()
    assert path.stat().st_mode & 0o777 == 0o600


def write_http_config(tmp_path: Path, http_section: object) -> Path:
    entry = {"name": "web", "repo": str(tmp_path), "branch": "main", "backend_url": f"file://{tmp_path / 'b'}",
             "virtualenv": str(PROJECT_DIR / ".venv")}
    return write_config(tmp_path / "reconciler.yaml", [entry], http=http_section)


def test_the_http_section_is_read_with_its_defaults(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("STATUS_TOKEN_FOR_TEST", "a-status-token")
    config = load_config(write_http_config(tmp_path, {
        "allowed_hosts": ["Hooks.Example.com", "[::1]"], "status_token": {"env": "STATUS_TOKEN_FOR_TEST"},
        "max_connections": 50, "request_timeout": "3s", "workers": 2,
    }))

    assert config.http.allowed_hosts == ("hooks.example.com", "::1")
    assert config.http.status_token.value == "a-status-token" and config.http.status_auth == "non-loopback"
    assert (config.http.max_connections, config.http.request_timeout, config.http.workers) == (50, 3.0, 2)
    assert "a-status-token" in config.secrets(), "the token is redacted like every secret"
    defaults = load_config(write_http_config(tmp_path, {})).http
    assert (defaults.max_connections, defaults.request_timeout, defaults.workers, defaults.allowed_hosts) == (256, 10.0, 4, ())


def test_http_section_errors_name_the_key(tmp_path: Path):
    with pytest.raises(ConfigError) as raised:
        load_config(write_http_config(tmp_path, {
            "allowed_hosts": ["hooks.example.com:443"], "status_token": "in-the-file", "status_auth": "sometimes",
            "max_connections": 0, "request_timeout": "soon", "workers": "many", "max_conections": 3,
        }))

    message = str(raised.value)
    for where in ("http.allowed_hosts", "http.status_token", "http.status_auth", "http.max_connections",
                  "http.request_timeout", "http.workers", "did you mean 'max_connections'"):
        assert where in message, where


def test_always_asking_for_a_token_needs_one(tmp_path: Path):
    with pytest.raises(ConfigError, match="http.status_auth: is `always` but http.status_token is not set"):
        load_config(write_http_config(tmp_path, {"status_auth": "always"}))
