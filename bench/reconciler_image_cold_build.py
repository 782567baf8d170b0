"""What the reconciler's image adds to a cold `make up`: a first `up` of a copy of the project with every
layer of the image above its base built anew (a cache-busting file in its `tools` build context), against
the same first `up` with every layer in BuildKit's cache (tests/e2e/test_reconciler_in_cluster.py prints
that one), then a second `up` with only a manifest changed.

The copy's reconciler runs under names of its own, its replicas keeping nothing (copy_in_cluster).

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

from reconciler_in_cluster import copy_in_cluster, local_env, stop_replicas  # noqa: E402

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
    project = copy_in_cluster(root / "service", local_env())
    configured = project.pulumi("config", "set", "--stack", "local", "pulumi-gitops:reconcilerBuildInputs", str(inputs))
    assert configured.returncode == 0, configured.output
    project.commit("the reconciler image, built cold")
    try:
        print(f"first up, every layer of the image above its base built: {timed_up(project):.1f} s")
        project.write("manifests/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n")
        project.commit("a manifest")
        print(f"second up, a manifest changed: {timed_up(project):.1f} s")
    finally:
        stop_replicas(project)
        destroyed = project.destroy()
        print(f"destroy: exit {destroyed.returncode}")
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
