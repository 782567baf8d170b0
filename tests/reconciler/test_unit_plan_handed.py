"""A unit's workspace hands its record's plan to the program: a file beside the checkout, named in the CLI's env.

Git is real (a bare repository on disk is the remote); the CLI is a stand-in that writes down the variable it got.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from manifest_loader.unit_plan_file import PLAN_FILE_ENV, UnitPlanFile, read_unit_plan
from manifest_loader.units import unit_stack_name
from reconciler.settings import RetryPolicy
from reconciler.telemetry.redaction import Redactor
from reconciler.units.record import UnitRecord
from reconciler.units.specs import unit_spec
from reconciler.units.workspace import UnitWorkspace
from testsupport.reconciler_testing import TINY_PROJECT
from testsupport.stub_pulumi import StubPulumi
from testsupport.tiny_units import STACK_FILE, objects

RETRY = RetryPolicy(unreachable_delay=15, concurrent_delay=30, backoff_base=10, backoff_cap=600)


@pytest.fixture
def first(remote) -> str:
    return remote.commit("a project in units", {
        **TINY_PROJECT, "Pulumi.dev.yaml": STACK_FILE, **objects("platform", "namespace"), **objects("web", "page", "cart"),
    })


def web_record(parent_stack: str, planned_at: str) -> UnitRecord:
    return UnitRecord(
        name="tiny.web", parent="tiny", unit="web", pulumi_stack=unit_stack_name(parent_stack, "web"), position=1,
        files=("web/cart.yaml", "web/page.yaml"), depends_on=("platform",), paths=("manifests/web/cart.yaml",),
        planned_at=planned_at,
    )


def unit_workspace(tiny_spec, record_of, tmp_path: Path) -> tuple[UnitWorkspace, StubPulumi]:
    stub = StubPulumi(tmp_path / "cli")
    spec = unit_spec(tiny_spec, web_record(tiny_spec.stack, "0" * 40))
    workspace = UnitWorkspace(
        spec, tiny_spec, lambda: None, tmp_path / "state", str(stub.root), Redactor([]), RETRY,
        remembered_salt=lambda: None, remember_salt=lambda salt: None, record_of=record_of,
    )
    return workspace, stub


def test_each_checkout_writes_the_unit_s_record_beside_it_and_every_cli_run_is_told_where(tiny_spec, tmp_path, first):
    qualified = dataclasses.replace(tiny_spec, stack="organization/tiny/dev")
    record = web_record(qualified.stack, first)
    workspace, stub = unit_workspace(qualified, lambda: record, tmp_path)
    stub.behave(f'printf %s "${PLAN_FILE_ENV}" > "$here/plan-file-env"\n')

    workspace.check_out(first)
    workspace.session.stack  # selects or creates the stack: one CLI run with the workspace's env

    assert workspace.plan_file == tmp_path / "state" / "workspaces" / "tiny.web" / "unit-plan.json"
    assert not workspace.plan_file.is_relative_to(workspace.checkout.repo_dir), "no commit can bring or change it"
    assert read_unit_plan(workspace.plan_file) == UnitPlanFile(
        stack="dev.web", unit="web", commit=first, files=("web/cart.yaml", "web/page.yaml"), depends_on=("platform",),
    ), "the stack as the program names it (pulumi.get_stack()), without organization and project"
    assert (stub.root / "plan-file-env").read_text() == str(workspace.plan_file)


def test_a_newer_record_replaces_the_file_and_a_removed_unit_leaves_none(tiny_spec, tmp_path, first, remote):
    records = [web_record(tiny_spec.stack, first)]
    workspace, _ = unit_workspace(tiny_spec, lambda: records[-1], tmp_path)
    workspace.check_out(first)

    second = remote.commit("one more page", objects("web", "more"))
    records.append(dataclasses.replace(records[0], files=tuple(sorted((*records[0].files, "web/more.yaml"))), planned_at=second))
    workspace.check_out(second)
    assert read_unit_plan(workspace.plan_file).files == ("web/cart.yaml", "web/more.yaml", "web/page.yaml")
    assert read_unit_plan(workspace.plan_file).commit == second

    records.append(dataclasses.replace(records[-1], removed_at=second))
    workspace.check_out(second)
    assert not workspace.plan_file.exists(), "a unit being removed runs no program of a plan"
