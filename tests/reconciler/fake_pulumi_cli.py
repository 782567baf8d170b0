"""The few `pulumi` CLI commands a StackSession issues, answered the way the real CLI answers them.

Run by the stub `pulumi` (stub_pulumi.py) as `python fake_pulumi_cli.py ROOT ARGS...` in the project folder.
The backend's state is ROOT/state.json; config secrets are "encrypted" as `v1:` + base64, with the salt the
CLI writes into a stack file that has none. Every call is appended to ROOT/calls.jsonl.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import yaml

NEW_SALT = "v1:salt-written-by-the-cli"


def main(root: Path, args: list[str]) -> int:
    args = [arg for arg in args if arg != "--non-interactive"]
    with (root / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps(args) + "\n")
    state_path = root / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    stack = args[args.index("--stack") + 1] if "--stack" in args else None
    stack_file = Path(f"Pulumi.{stack}.yaml")
    if args[:2] == ["stack", "select"]:
        if not state.get("exists"):
            print(f"error: no stack named '{stack}' found", file=sys.stderr)
            return 255
        return 0
    if args[:2] == ["stack", "init"]:
        state["exists"] = True
        state_path.write_text(json.dumps(state))
        return 0
    if args[:2] == ["stack", "export"]:
        provider = {"type": "passphrase", "state": {"salt": state["salt"]}} if state.get("salt") else None
        deployment = {"secrets_providers": provider} if provider else {}
        print(json.dumps({"version": 3, "deployment": deployment}))
        return 0
    if args[:2] == ["config", "set-all"]:
        data = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else {}
        data = data or {}
        data.setdefault("encryptionsalt", NEW_SALT)
        config = data.setdefault("config", {})
        for flag, pair in zip(args[4::2], args[5::2], strict=True):
            key, _, value = pair.partition("=")
            config[key] = {"secure": "v1:" + base64.b64encode(value.encode()).decode()} if flag == "--secret" else value
        stack_file.write_text(yaml.safe_dump(data))
        return 0
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
    if args[:1] == ["whoami"]:
        if (root / "backend-down").exists():
            print("error: could not reach the backend", file=sys.stderr)
            return 255
        print(json.dumps({"user": "reconciler", "url": "file://"}))
        return 0
    print(f"fake pulumi: unexpected command {args}", file=sys.stderr)
    return 3


def preview(args: list[str]) -> int:
    """A program that fails when the commit holds fail.txt; else one update (of `web`), one delete (of `old`)."""
    urn = "urn:pulumi:dev::tiny::kubernetes:apps/v1:Deployment::{}".format
    if Path("fail.txt").exists():
        problem = Path("fail.txt").read_text().strip()
        write_events(args, [{"diagnosticEvent": {"message": f"{problem}\n", "color": "never", "severity": "error"}}])
        print(f"error: an unhandled error occurred: {problem}")
        return 1
    write_events(args, [
        {"resourcePreEvent": {"metadata": {"op": "update", "urn": urn("web"), "type": "kubernetes:apps/v1:Deployment",
                                           "provider": "", "diffs": ["spec"]}}},
        {"resourcePreEvent": {"metadata": {"op": "delete", "urn": urn("old"), "type": "kubernetes:apps/v1:Deployment",
                                           "provider": ""}}},
        {"summaryEvent": {"resourceChanges": {"update": 1, "delete": 1, "same": 2}}},
    ])
    print("  ~ kubernetes:apps/v1:Deployment web update [diff: ~spec]")
    print("  - kubernetes:apps/v1:Deployment old delete")
    return 0


def write_events(args: list[str], events: list[dict]) -> None:
    """The --event-log file, ended by the cancel event every log ends with (the SDK stops reading there)."""
    with open(args[args.index("--event-log") + 1], "a") as log:
        for sequence, event in enumerate([*events, {"cancelEvent": {}}]):
            log.write(json.dumps({"sequence": sequence, "timestamp": 0, **event}) + "\n")


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
