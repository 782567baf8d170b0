"""A provider-free tiny project whose stack file declares units: the real engine runs it in milliseconds.

The program makes one resource per manifest file of its unit (`pulumi-gitops:unit`), or, for the parent, one
of its own and the outputs units read (an image named after app/version.txt); a unit folder holding fail.yaml
fails with that file's words.
"""

from __future__ import annotations

import json
import textwrap

PROGRAM = textwrap.dedent(
    """\
    import os
    import time
    from pathlib import Path

    import pulumi

    unit = pulumi.Config("pulumi-gitops").get("unit")
    if unit is None:
        pulumi.ComponentResource("tiny:index:Infra", "infra")
        # What units read of a parent: its image (here the app's version file) and its secret kubeconfig.
        version = Path("app/version.txt")
        pulumi.export("imageRef", "tiny-app:" + (version.read_text().strip() if version.exists() else "none"))
        pulumi.export("kubeconfig", pulumi.Output.secret("token: tiny-kubeconfig-s3cr3t"))
    else:
        folder = Path("manifests") / unit
        if (folder / "fail.yaml").exists():
            raise ValueError(f"{folder}/fail.yaml: " + (folder / "fail.yaml").read_text().strip())
        meet = folder / "meet.txt"
        if meet.exists() and not pulumi.runtime.is_dry_run():
            # Two units meet: each waits for the other to have started, so they can only pass side by side.
            rendezvous = Path(os.environ["TINY_RENDEZVOUS"])
            (rendezvous / unit).touch()
            other = rendezvous / meet.read_text().strip()
            deadline = time.monotonic() + 60
            while not other.exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{other.name} never ran alongside {unit}")
                time.sleep(0.1)
        for path in sorted(folder.glob("*.yaml")):
            pulumi.ComponentResource("tiny:index:Object", f"{unit}-{path.stem}")
        pulumi.export("unit", unit)
    """
)
STACK_FILE = """\
config:
  pulumi-gitops:units:
    split: folders
    units:
      web: {dependsOn: [platform]}
"""


def objects(unit: str, *names: str) -> dict[str, str]:
    return {f"manifests/{unit}/{name}.yaml": f"# {name}\n" for name in names}


def applied_commit(service, name: str) -> str | None:
    """The commit the stack last applied, as /status says; None while it is not listed (a unit not planned yet)."""
    status, body = service.get("/status")
    assert status == 200, body
    return next((entry["last_applied_commit"] for entry in json.loads(body)["stacks"] if entry["stack"] == name), None)
