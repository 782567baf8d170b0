"""A background program the environment starts, probes and stops by name."""

import time
from dataclasses import dataclass, field
from typing import Callable

from . import ports, processes
from .errors import ComponentFailed
from .settings import Port, Settings


@dataclass
class Service:
    name: str
    # Built only when the service must start, so a missing binary or file
    # matters only then.
    argv: Callable[[], list[str]]
    # A quick probe (a second or two at most): is it serving?
    ready: Callable[[], bool]
    port: Port | None = None
    env: dict = field(default_factory=dict)
    stop_timeout: float = 20
    # -1 keeps `localenv`'s private umask; a program that writes files for other users sets its own.
    umask: int = -1
    # Undoes what argv() set up outside the state directory; runs on every
    # `down`, so it also cleans up after a crash.
    after_stop: Callable[[], None] | None = None


def ensure_running(service: Service, settings: Settings) -> str:
    """Start SERVICE unless its recorded process runs; wait until it is ready."""
    pid_file = settings.pid_file(service.name)
    if processes.running_pid(pid_file) is not None:
        outcome = "already running"
    else:
        argv = service.argv()
        if service.port is not None:
            ports.ensure_free(service.port, service.name)
        processes.start(argv, pid_file, settings.log_file(service.name), service.env, service.umask)
        outcome = "started"
    _wait_ready(service, settings)
    return outcome


def _wait_ready(service: Service, settings: Settings) -> None:
    pid_file = settings.pid_file(service.name)
    log_file = settings.log_file(service.name)
    deadline = time.monotonic() + settings.start_timeout
    while True:
        if processes.running_pid(pid_file) is None:
            raise ComponentFailed(service.name, "exited while starting", log_file,
                                  processes.log_tail(log_file))
        if service.ready():
            return
        if time.monotonic() > deadline:
            raise ComponentFailed(
                service.name, f"was not ready after {settings.start_timeout:.0f}s "
                "(run `python -m localenv down` to stop it)", log_file,
                processes.log_tail(log_file))
        time.sleep(0.5)


def is_running(service: Service, settings: Settings) -> bool:
    return processes.running_pid(settings.pid_file(service.name)) is not None


def stop(service: Service, settings: Settings) -> bool:
    stopped = processes.stop(settings.pid_file(service.name), service.stop_timeout)
    if service.after_stop is not None:
        service.after_stop()
    return stopped
