"""The scale benchmark's units side: the set in folders of ~100 objects, one unit stack each, run by the reconciler.

As users run units: a copy of this project in its own Git repository whose
Pulumi.local.yaml declares `pulumi-gitops:units: {split: folders}`, and one
`python -m reconciler once --config ...` per step, which runs the parent stack
(registry, image, cluster), plans the units and runs their stacks in
dependency order (`units_parallel`, default 4, `--units-parallel`), checkpoints as the reconciler
decides (`auto`). What is timed is that whole `once`.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import yaml

from manifest_loader import MANAGED_BY_LABEL, MANAGER_NAME
from manifest_loader.units import UNITS_KEY, unit_stack_name
from testsupport.local_project import LocalProject
from testsupport.reconciler_testing import PYTHON, write_config
from testsupport.scale_manifests import PLATFORM_UNIT, SET_LABEL, ManifestSet
from testsupport.scale_measure import Measurement, run_measured

PROJECT_DIR = Path(__file__).resolve().parent.parent
ENTRY = "bench"  # the reconciler's name for the parent stack; its units are bench.<unit>
STACK = "local"
PASSPHRASE_ENV = "SCALE_BENCH_PASSPHRASE"
IN_SYNC = ("applied", "skipped")
PULUMI = ["pulumi", "--non-interactive", "--color", "never"]


class UnitsSide:
    layout = "units"
    checkpoints = "auto"  # the reconciler's default: a unit's first run keeps them, later ones skip them
    tool = "reconciler once, units"
    destroy_tool = "pulumi destroy, units"
    refreshes = False  # `once` has no `up --refresh`

    def __init__(self, root: Path, local_env: dict[str, str], logs: Path, manifest_set: ManifestSet,
                 timeout: float, units_parallel: int = 4) -> None:
        self.project = LocalProject.create(root / "service", local_env)
        self.manifest_set = manifest_set
        self.logs = logs
        self.timeout = timeout
        self.selector = f"{SET_LABEL}={manifest_set.prefix},{MANAGED_BY_LABEL}={MANAGER_NAME}"
        self.state_dir = root / "reconciler-state"
        self.units: list[str] = []  # as the last `once` ran them, in order
        self.stacks: dict[str, float] = {}  # the last `once`'s stacks (parent and units) to their run's seconds
        self._declare_units()
        entry = {
            "name": ENTRY, "repo": {"url": str(self.project.root)}, "branch": "main", "stack": STACK,
            "backend_url": f"file://{self.project.backend_dir}", "secrets_passphrase": {"env": PASSPHRASE_ENV},
            "drift_interval": "off", "virtualenv": str(PROJECT_DIR / ".venv"),
            # The stack file's kubeconfig is relative to a laptop's checkout (.state is not in Git).
            "config": {"pulumi-gitops:kubeconfig": local_env["KUBECONFIG"]},
        }
        self.units_parallel = units_parallel
        entry["units_parallel"] = units_parallel
        self.config = write_config(root / "reconciler.yaml", [entry], state_dir=str(self.state_dir))
        self.env = {**self.project.env(), PASSPHRASE_ENV: self.project.env()["PULUMI_CONFIG_PASSPHRASE"]}
        # The reconciler gives each stack its backend and passphrase from its config, nothing from its own environment.
        for name in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"):
            self.env.pop(name)

    def _declare_units(self) -> None:
        path = self.project.root / "Pulumi.local.yaml"
        document = yaml.safe_load(path.read_text())
        document["config"][UNITS_KEY] = {"split": "folders"}
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def commit(self, manifest_set: ManifestSet, step: str) -> None:
        manifest_set.write(self.project.root / "manifests")
        if step == "no change":
            # A commit outside the manifests (a note, the program) runs every unit: the no-change run of all
            # objects. A commit touching no file at all would run the parent only.
            (self.project.root / "NOTES.md").write_text(f"{step}\n")
        self.project.commit(step)

    def up(self, name: str) -> Measurement:
        argv = [PYTHON, "-m", "reconciler", "once", "--config", str(self.config), "--json"]
        measured = run_measured(argv, self.env, cwd=PROJECT_DIR, timeout=self.timeout, log=self.logs / f"{name}.log")
        lines = _json_lines(measured.output)
        self.stacks = {line["stack"]: line["duration_s"] for line in lines}
        self.units = [line["stack"].removeprefix(f"{ENTRY}.") for line in lines if line["stack"] != ENTRY]
        failed = {line["stack"]: f"{line['result']} {line.get('reason')}: {str(line.get('error'))[:300]}"
                  for line in lines if line["result"] not in IN_SYNC}
        for stack, why in failed.items():
            print(f"  {stack}: {why}", flush=True)
        return measured

    def command(self) -> str:
        return f"python -m reconciler once --config <file> --json  (units_parallel {self.units_parallel}, checkpoints auto)"

    def destroy(self, name: str) -> Measurement:
        """Every unit stack but the platform one, 4 at a time, then the platform (Namespaces, CRD), then the parent."""
        def destroy(unit: str) -> str:
            checkout = self.state_dir / "workspaces" / unit_stack_name(ENTRY, unit) / "checkout"
            return " ".join([*PULUMI, "--cwd", shlex.quote(str(checkout)), "destroy", "--stack",
                             unit_stack_name(STACK, unit), "--yes", "--skip-preview"])

        apps = [unit for unit in self.units if unit != PLATFORM_UNIT]
        script = ["set -e"]
        if apps:
            # xargs puts each unit's name where the placeholder is: one destroy per line, 4 at a time.
            script.append(f"printf '%s\\n' {' '.join(apps)} | xargs -P 4 -I @UNIT@ {destroy('@UNIT@')}")
        if PLATFORM_UNIT in self.units:
            script.append(destroy(PLATFORM_UNIT))
        script.append(" ".join([*PULUMI, "destroy", "--stack", STACK, "--yes", "--skip-preview"]))
        env = self.project.env()  # the backend and passphrase, as `pulumi` by hand needs them
        return run_measured(["bash", "-c", "\n".join(script)], env, cwd=self.project.root, timeout=self.timeout,
                            log=self.logs / f"{name}.log")

    def destroy_command(self) -> str:
        return "pulumi destroy --yes --skip-preview, each unit stack (4 at a time), the platform unit, the parent"


def _json_lines(output: str) -> list[dict[str, Any]]:
    """`once --json`'s lines (stdout), from the output they share with its log (stderr)."""
    found = []
    for line in output.splitlines():
        if line.startswith('{"stack"'):
            found.append(json.loads(line))
    return found
