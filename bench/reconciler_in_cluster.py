"""The reconciler as a workload, measured: image size, `up` with the build cached, the rebuild after a
commit to the reconciler's code, and how long its pod took from created to Ready on the real node.

Run (the local environment up):
  source tools/env.sh && GITOPS_STATE_DIR=/work/main/.state .venv/bin/python bench/reconciler_in_cluster.py
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testsupport.local_project import LocalProject  # noqa: E402

RECONCILER_FILES = ("reconciler", "deploy", "tools/versions.env")
NAMESPACE = "gitops-system"


def local_env() -> dict[str, str]:
    exports = subprocess.run([sys.executable, "-m", "localenv", "env"], capture_output=True, text=True, check=True).stdout
    env = {}
    for line in exports.splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = shlex.split(value)[0]
    env["GITOPS_STATE_DIR"] = os.environ.get("GITOPS_STATE_DIR", str(Path(".state").resolve()))
    return env


def timed_up(project: LocalProject) -> float:
    began = time.monotonic()
    result = project.up()
    assert result.returncode == 0, result.output
    return time.monotonic() - began


def image_megabytes(registry: str, ref: str) -> float:
    repository, digest = ref.removeprefix(f"{registry}/").split("@")
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{digest}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        manifest = json.load(response)
    return sum(layer["size"] for layer in manifest["layers"]) / 1e6


def seconds_to_ready(project: LocalProject) -> float:
    pods = json.loads(project.kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    [pod] = [p for p in pods if p["metadata"].get("deletionTimestamp") is None]
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    created = datetime.fromisoformat(pod["metadata"]["creationTimestamp"])
    return (datetime.fromisoformat(ready["lastTransitionTime"]) - created).total_seconds()


def main() -> int:
    env = local_env()
    with tempfile.TemporaryDirectory() as work:
        project = LocalProject.create(Path(work) / "service", env, RECONCILER_FILES)
        project.pulumi("config", "set", "--stack", "local", "pulumi-gitops:reconcilerImage", "true")
        project.commit("run the reconciler in the cluster")
        try:
            first = timed_up(project)
            ref = project.outputs()["reconcilerImageRef"]
            print(f"first up (build, push, rollout): {first:.1f} s")
            print(f"image: {image_megabytes(env['GITOPS_REGISTRY'], ref):.0f} MB compressed layers")
            print(f"pod created -> Ready: {seconds_to_ready(project):.0f} s")
            print(f"up with nothing changed: {timed_up(project):.1f} s")
            with open(project.root / "reconciler" / "__init__.py", "a") as module:
                module.write("# a commit to the reconciler's code\n")
            project.commit("reconciler: a code change")
            print(f"up after a commit to reconciler/ (code layer rebuilt, pod rolled): {timed_up(project):.1f} s")
            rebuilt = project.outputs()["reconcilerImageRef"]
            print(f"image digest {'changed' if rebuilt != ref else 'UNCHANGED'}: {ref.split('@')[1][:19]} -> {rebuilt.split('@')[1][:19]}")
            print(f"pod created -> Ready: {seconds_to_ready(project):.0f} s")
        finally:
            destroyed = project.destroy()
            print(f"destroy: {'ok' if destroyed.returncode == 0 else destroyed.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
