"""The few `pulumi` CLI commands a StackSession and a preview issue, answered the way pulumi 3.274 answers them.

Run by the stub `pulumi` (stub_pulumi.py) as `python fake_pulumi_cli.py ROOT ARGS...` in the project folder.
The stack's state is where the real CLI keeps it, in the file backend of $PULUMI_BACKEND_URL
(.pulumi/stacks/PROJECT/STACK.json), so the fake finds it inside a preview's sandbox too, which shows the CLI
only its environment's backend, read-only. Config secrets are "encrypted" as `v1:` + base64, with the salt
the CLI writes into a stack file that has none. When ROOT/calls.jsonl exists, every call's argv is appended
to it (a sandboxed preview cannot write there, so its tests do not ask for it).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import yaml

NEW_SALT = "v1:salt-written-by-the-cli"


def stack_state_path(backend: Path, project: str, stack: str) -> Path:
    return backend / ".pulumi" / "stacks" / project / f"{stack}.json"


def write_stack_state(backend: Path, project: str, stack: str, salt: str | None = None) -> Path:
    """A stack that exists in the backend, its secrets provider's salt as `stack export` shows it."""
    latest = {"secrets_providers": {"type": "passphrase", "state": {"salt": salt}}} if salt else {}
    path = stack_state_path(backend, project, stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 3, "checkpoint": {"stack": stack, "latest": latest}}))
    return path


def main(root: Path, args: list[str]) -> int:
    args = [arg for arg in args if arg != "--non-interactive"]
    calls = root / "calls.jsonl"
    if calls.exists():
        with calls.open("a") as log:
            log.write(json.dumps(args) + "\n")
    # `stack init NAME`; every other command names its stack with --stack.
    stack = args[2] if args[:2] == ["stack", "init"] else args[args.index("--stack") + 1] if "--stack" in args else None
    stack_file = Path(f"Pulumi.{stack}.yaml")
    if args[:1] == ["whoami"]:
        if (root / "backend-down").exists():
            print("error: could not reach the backend", file=sys.stderr)
            return 255
        print(json.dumps({"user": "reconciler", "url": os.environ["PULUMI_BACKEND_URL"]}))
        return 0
    state_path = stack_state_path(_backend(), yaml.safe_load(Path("Pulumi.yaml").read_text())["name"], stack)
    if args[:2] != ["stack", "init"] and stack is not None and not state_path.exists():
        print(f"error: no stack named '{stack}' found", file=sys.stderr)  # as the CLI says for any command on it
        return 255
    if args[:2] == ["stack", "select"]:
        return 0
    if args[:2] == ["stack", "init"]:
        write_stack_state(_backend(), state_path.parent.name, stack)
        return 0
    if args[:2] == ["stack", "export"]:
        print(json.dumps({"version": 3, "deployment": json.loads(state_path.read_text())["checkpoint"]["latest"]}))
        return 0
    if args[:3] == ["config", "set", "--secret"] and len(args) == 6:
        # No value on the command line: the CLI reads it from stdin, one trailing newline dropped.
        return set_secret(stack_file, args[5], sys.stdin.read().removesuffix("\n"))
    if args[:1] == ["config"] and "--json" in args:
        config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
        shown = {}
        for key, value in config.items():
            if isinstance(value, dict) and "secure" in value:
                shown[key] = {"value": base64.b64decode(value["secure"][3:]).decode(), "secret": True}
            else:
                shown[key] = {"value": str(value), "secret": False}
        print(json.dumps(shown))
        return 0
    if args[:1] == ["preview"]:
        return preview(args)
    print(f"fake pulumi: unexpected command {args}", file=sys.stderr)
    return 3


def _backend() -> Path:
    url = os.environ["PULUMI_BACKEND_URL"]
    if not url.startswith("file://"):
        raise SystemExit(f"fake pulumi: only file:// backends, not {url}")
    return Path(url[len("file://"):].split("?", 1)[0])


def set_secret(stack_file: Path, key: str, value: str) -> int:
    data = (yaml.safe_load(stack_file.read_text()) if stack_file.exists() else {}) or {}
    data.setdefault("encryptionsalt", NEW_SALT)
    data.setdefault("config", {})[key] = {"secure": "v1:" + base64.b64encode(value.encode()).decode()}
    stack_file.write_text(yaml.safe_dump(data))
    return 0


def preview(args: list[str]) -> int:
    """A program that fails when the commit holds fail.txt; else one update (of `web`), one delete (of `old`)."""
    urn = "urn:pulumi:dev::tiny::kubernetes:apps/v1:Deployment::{}".format
    if Path("fail.txt").exists():
        problem = Path("fail.txt").read_text().strip()
        send_events(args, [{"diagnosticEvent": {"message": f"{problem}\n", "color": "never", "severity": "error"}}])
        print(f"error: an unhandled error occurred: {problem}")
        return 1
    send_events(args, [
        {"resourcePreEvent": {"metadata": {"op": "update", "urn": urn("web"), "type": "kubernetes:apps/v1:Deployment",
                                           "provider": "", "diffs": ["spec"]}}},
        {"resourcePreEvent": {"metadata": {"op": "delete", "urn": urn("old"), "type": "kubernetes:apps/v1:Deployment",
                                           "provider": ""}}},
        {"summaryEvent": {"resourceChanges": {"update": 1, "delete": 1, "same": 2}}},
    ])
    print("  ~ kubernetes:apps/v1:Deployment web update [diff: ~spec]")
    print("  - kubernetes:apps/v1:Deployment old delete")
    return 0


def send_events(args: list[str], events: list[dict]) -> None:
    """To the SDK's gRPC Events service at --event-log `tcp://HOST:PORT`, as CLIs newer than 3.205 send them."""
    import grpc
    from pulumi.runtime.proto import events_pb2, events_pb2_grpc

    target = args[args.index("--event-log") + 1]
    lines = [json.dumps({"sequence": sequence, "timestamp": 0, **event}) for sequence, event in enumerate(events)]
    with grpc.insecure_channel(target.removeprefix("tcp://")) as channel:
        events_pb2_grpc.EventsStub(channel).StreamEvents(events_pb2.EventRequest(event=line) for line in lines)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
