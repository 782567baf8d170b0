"""Benchmark: signed webhooks per second while 200 slow clients hold connections, and memory after hostile traffic.

`python -m reconciler run` keeps one provider-free stack (applied once first).
Then, for MEASURE_S seconds each, SENDERS clients post valid signed pushes (a
new connection each, like GitHub; each body unique, for a branch no stack
tracks, so nothing runs): first alone, then while SLOW_CLIENTS clients send
one byte every SLOW_BYTE_EVERY_S seconds and reconnect whenever the service
cuts them off at its deadline. Then a burst of malformed, forged and
oversized requests. RSS is read from /proc before and after.

Run: source tools/env.sh && .venv/bin/python bench/webhook_under_load.py
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import tempfile
import time
import uuid
from pathlib import Path

from reconciler_common import engine_environment, rss_mb, status

from testsupport.reconciler_testing import TINY_PROJECT, GitRemote, ServiceProcess, free_port, tiny_stack, write_config

SECRET = "bench-webhook-secret"
SENDERS = 4
SLOW_CLIENTS = 200
SLOW_BYTE_EVERY_S = 2.0
MEASURE_S = 15.0
HOSTILE_BURST = 2000


def signed_push(port: int, remote: GitRemote) -> bytes:
    body = json.dumps({"ref": "refs/heads/bench-untracked", "after": uuid.uuid4().hex,
                       "repository": {"clone_url": str(remote.bare)}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return (f"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
            f"X-Hub-Signature-256: {signature}\r\nConnection: close\r\n\r\n").encode() + body


async def exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await reader.read()
    except ConnectionError:
        return b""
    finally:
        writer.close()


async def accepted_per_second(port: int, remote: GitRemote) -> tuple[float, int]:
    """Signed pushes answered 202 per second by SENDERS clients in a row; and how many got anything else."""
    accepted, refused = 0, 0
    until = time.monotonic() + MEASURE_S

    async def sender() -> None:
        nonlocal accepted, refused
        while time.monotonic() < until:
            answer = await exchange(port, signed_push(port, remote))
            if answer.startswith(b"HTTP/1.1 202"):
                accepted += 1
            else:
                refused += 1

    started = time.monotonic()
    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return accepted / (time.monotonic() - started), refused


async def slow_client(port: int, stop: asyncio.Event, held: list[int]) -> None:
    """Holds a connection by sending a request one byte at a time; reconnects when the service cuts it off."""
    request = b"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(SLOW_BYTE_EVERY_S)
            continue
        held[0] += 1
        try:
            for byte in request:
                writer.write(bytes([byte]))
                await writer.drain()
                try:
                    await asyncio.wait_for(reader.read(1), SLOW_BYTE_EVERY_S)
                    break  # the service answered (408 or 503): connect again
                except TimeoutError:
                    if stop.is_set():
                        break
        except ConnectionError:
            pass
        finally:
            held[0] -= 1
            writer.close()


async def hostile_burst(port: int) -> None:
    junk = [
        b"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \xc2\xb2\r\n\r\n",
        b"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nX-GitHub-Event: push\r\nConnection: close\r\n"
        b"X-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\n\r\n{}",
        b"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 900000000\r\n\r\n",
        "GET /st\u00e4tus HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(),
        b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ]
    for start in range(0, HOSTILE_BURST, 50):
        await asyncio.gather(*(exchange(port, junk[n % len(junk)]) for n in range(start, start + 50)))


async def load(port: int, remote: GitRemote, pid: int) -> dict[str, float]:
    figures: dict[str, float] = {"rss_start_mb": rss_mb(pid)}
    figures["alone_per_s"], _ = await accepted_per_second(port, remote)
    stop, held = asyncio.Event(), [0]
    slow = [asyncio.create_task(slow_client(port, stop, held)) for _ in range(SLOW_CLIENTS)]
    await asyncio.sleep(SLOW_BYTE_EVERY_S * 2)
    figures["slow_held_at_start"] = held[0]
    figures["under_slow_per_s"], figures["under_slow_refused"] = await accepted_per_second(port, remote)
    figures["slow_held_at_end"] = held[0]
    figures["rss_under_slow_mb"] = rss_mb(pid)
    stop.set()
    await asyncio.gather(*slow)
    await hostile_burst(port)
    figures["rss_after_mb"] = rss_mb(pid)
    return figures


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-webhooks-") as scratch:
        root = Path(scratch)
        remote = GitRemote(root)
        remote.commit("tiny project", TINY_PROJECT)
        port = free_port()
        config = write_config(root / "reconciler.yaml", [tiny_stack(remote, root / "backend", resync_interval="1h")],
                              listen=f"127.0.0.1:{port}", log_level="WARNING", webhook={"secret": {"env": "BENCH_WEBHOOK_SECRET"}})
        env = engine_environment(TINY_PASSPHRASE="bench-passphrase", BENCH_WEBHOOK_SECRET=SECRET)
        service = ServiceProcess(config, env, root / "service.log", port)
        try:
            service.wait_until(lambda: status(port, "tiny")["last_applied_commit"] == remote.head(), 300, "the first apply")
            figures = asyncio.run(load(port, remote, service.process.pid))
            healthy = service.get("/healthz")[0] == 200
        finally:
            service.stop()
    print(f"signed pushes accepted, {SENDERS} senders, a connection each: {figures['alone_per_s']:.0f}/s alone; "
          f"{figures['under_slow_per_s']:.0f}/s while {SLOW_CLIENTS} slow clients hold connections "
          f"(held {figures['slow_held_at_start']:.0f} at start, {figures['slow_held_at_end']:.0f} at end; "
          f"{figures['under_slow_refused']:.0f} pushes not accepted)")
    print(f"service RSS: {figures['rss_start_mb']:.1f} MB after the first apply, {figures['rss_under_slow_mb']:.1f} MB under "
          f"the slow clients, {figures['rss_after_mb']:.1f} MB after them and {HOSTILE_BURST} hostile requests; "
          f"/healthz {'answers' if healthy else 'DOES NOT answer'}")
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
