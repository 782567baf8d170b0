"""The reconciler as a workload, measured: image size, `up` with the build cached, the rebuild after a
commit to the reconciler's code, and how long its pods took from created to Ready on the real node.

The copy's reconciler runs under names of its own (testsupport/in_cluster_names.py), beside `make up`'s, and its
replicas are pointed at a repository the Git host does not serve: the shipped ConfigMap names this machine's own
repository and backend, and they would keep its `local` stack at main.

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


def local_env() -> dict[str, str]:
    exports = subprocess.run([sys.executable, "-m", "localenv", "env"], capture_output=True, text=True, check=True).stdout
    env = {}
    for line in exports.splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = shlex.split(value)[0]
    env["GITOPS_STATE_DIR"] = os.environ.get("GITOPS_STATE_DIR", str(Path(".state").resolve()))
    return env


def copy_in_cluster(root: Path, env: dict[str, str]) -> LocalProject:
    """A copy of the project with its reconciler in the cluster, its replicas keeping nothing."""
    project = LocalProject.create(root, env, RECONCILER_FILES, in_cluster=True)
    configmap = project.root / "deploy" / "reconciler" / "configmap.yaml"
    configmap.write_text(configmap.read_text().replace("19418/pulumi-gitops", "19418/not-served"))
    return project


def stop_replicas(project: LocalProject) -> None:
    """Before the destroy: replicas that stop on SIGTERM hold no lock of the stack."""
    namespace = project.reconciler_namespace
    project.kubectl("scale", "deployment", "reconciler", "-n", namespace, "--replicas", "0")
    project.kubectl("wait", "--for", "delete", "pods", "-n", namespace, "-l", "app.kubernetes.io/name=reconciler",
                    "--timeout", "180s")


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


def seconds_to_ready(project: LocalProject) -> str:
    """Each replica's pod, created to Ready, in the order they were created (a rollout replaces one at a time)."""
    pods = json.loads(project.kubectl("get", "pods", "-n", project.reconciler_namespace, "-o", "json").stdout)["items"]
    spans = []
    for pod in sorted((p for p in pods if p["metadata"].get("deletionTimestamp") is None),
                      key=lambda p: p["metadata"]["creationTimestamp"]):
        ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        created = datetime.fromisoformat(pod["metadata"]["creationTimestamp"])
        spans.append(f"{(datetime.fromisoformat(ready['lastTransitionTime']) - created).total_seconds():.0f}")
    return ", ".join(spans) + f" s ({len(spans)} replicas)"


def main() -> int:
    env = local_env()
    with tempfile.TemporaryDirectory() as work:
        project = copy_in_cluster(Path(work) / "service", env)
        project.commit("run the reconciler in the cluster")
        try:
            first = timed_up(project)
            ref = project.outputs()["reconcilerImageRef"]
            print(f"first up (build, push, rollout): {first:.1f} s")
            print(f"image: {image_megabytes(env['GITOPS_REGISTRY'], ref):.0f} MB compressed layers")
            print(f"pods created -> Ready: {seconds_to_ready(project)}")
            print(f"up with nothing changed: {timed_up(project):.1f} s")
            with open(project.root / "reconciler" / "__init__.py", "a") as module:
                module.write("# a commit to the reconciler's code\n")
            project.commit("reconciler: a code change")
            print(f"up after a commit to reconciler/ (code layer rebuilt, pod rolled): {timed_up(project):.1f} s")
            rebuilt = project.outputs()["reconcilerImageRef"]
            print(f"image digest {'changed' if rebuilt != ref else 'UNCHANGED'}: {ref.split('@')[1][:19]} -> {rebuilt.split('@')[1][:19]}")
            print(f"pods created -> Ready: {seconds_to_ready(project)}")
        finally:
            stop_replicas(project)
            destroyed = project.destroy()
            print(f"destroy: {'ok' if destroyed.returncode == 0 else destroyed.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
