"""What the reconciler's image adds to a cold `make up`: a first `up` of a copy of the project with every
layer of the image above its base built anew (a cache-busting file in its `tools` build context), against
the same first `up` with every layer in BuildKit's cache (tests/e2e/test_reconciler_in_cluster.py prints
that one), then a second `up` with only a manifest changed.

The copy's replicas are pointed at a repository the Git host does not serve: the shipped ConfigMap names
this machine's own repository and backend, and they would keep its `local` stack at main.

Run (the local environment up):
  source tools/env.sh && GITOPS_STATE_DIR=/work/main/.state .venv/bin/python bench/reconciler_image_cold_build.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler_in_cluster import NAMESPACE, RECONCILER_FILES, local_env  # noqa: E402

from localenv.reconciler_inputs import inputs_dir  # noqa: E402
from testsupport.local_project import LocalProject  # noqa: E402


def timed_up(project: LocalProject) -> float:
    began = time.monotonic()
    result = project.up()
    assert result.returncode == 0, result.output[-3000:]
    return time.monotonic() - began


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="reconciler-cold-build-"))
    inputs = root / "inputs"
    subprocess.run(["cp", "-al", str(inputs_dir()), str(inputs)], check=True)  # links, not 500 MB of copies
    (inputs / "tools" / "cache-bust").write_text(str(time.time()))
    project = LocalProject.create(root / "service", local_env(), RECONCILER_FILES)
    configmap = project.root / "deploy" / "reconciler" / "configmap.yaml"
    configmap.write_text(configmap.read_text().replace("19418/pulumi-gitops", "19418/not-served"))
    for key, value in (("reconcilerImage", "true"), ("reconcilerBuildInputs", str(inputs))):
        assert project.pulumi("config", "set", "--stack", "local", f"pulumi-gitops:{key}", value).returncode == 0
    project.commit("the reconciler image, built cold")
    try:
        print(f"first up, every layer of the image above its base built: {timed_up(project):.1f} s")
        project.write("manifests/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n")
        project.commit("a manifest")
        print(f"second up, a manifest changed: {timed_up(project):.1f} s")
    finally:
        project.kubectl("scale", "deployment", "reconciler", "-n", NAMESPACE, "--replicas", "0")
        project.kubectl("wait", "--for", "delete", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=reconciler",
                        "--timeout", "180s")
        destroyed = project.destroy()
        print(f"destroy: exit {destroyed.returncode}")
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
