"""Which units a pull request previews, read from real Git (no engine): the plan at its head and where it branched off.

Units whose paths the pull request changes are previewed, in the head plan's order; units planned where it branched
off and gone from the head's plan are removed; without a base, every unit of the head's plan.
"""

from __future__ import annotations

from reconciler.preview.workspace import PreviewWorkspace
from reconciler.units.previews import affected_units
from testsupport.reconciler_testing import TINY_PROJECT, git
from testsupport.tiny_units import STACK_FILE, objects


def names(records) -> list[str]:
    return [record.name for record in records]


def pull_request(remote, files) -> str:
    """A commit on no branch, at refs/pull/7/head, as GitHub stores a pull request's head."""
    head = remote.commit("the pull request", files, push=False)
    git("push", "--quiet", str(remote.bare), "HEAD:refs/pull/7/head", cwd=remote.clone)
    git("reset", "--quiet", "--hard", "HEAD~1", cwd=remote.clone)
    return head


def test_a_pull_request_affects_the_units_it_changes_and_the_ones_it_removes(tiny_spec, tmp_path, remote):
    remote.commit("units", {**TINY_PROJECT, "Pulumi.dev.yaml": STACK_FILE, **objects("platform", "namespace"),
                            **objects("web", "page"), **objects("jobs", "nightly")})
    head = pull_request(remote, {**objects("web", "banner"), **objects("cache", "redis"), "manifests/jobs": None})
    remote.commit("main moves on in platform", objects("platform", "quota"))
    workspace = PreviewWorkspace(tiny_spec, tmp_path / "state")

    affected = affected_units(workspace, [], "main", workspace.resolve(head))

    assert names(affected.changed) == ["tiny.cache", "tiny.web"], "not platform: only main changed it since the fork"
    assert names(affected.removed) == ["tiny.jobs"]
    assert names(affected_units(workspace, [], None, head).changed) == ["tiny.cache", "tiny.platform", "tiny.web"]


def test_a_change_outside_the_manifests_affects_every_unit(tiny_spec, tmp_path, remote):
    remote.commit("units", {**TINY_PROJECT, "Pulumi.dev.yaml": STACK_FILE, **objects("platform", "namespace"),
                            **objects("web", "page")})
    head = pull_request(remote, {"things.txt": "a\nb\nc\nd\n"})
    workspace = PreviewWorkspace(tiny_spec, tmp_path / "state")

    affected = affected_units(workspace, [], "main", workspace.resolve(head))

    assert (names(affected.changed), affected.removed) == (["tiny.platform", "tiny.web"], [])


def test_a_base_whose_plan_fails_removes_nothing_and_the_heads_changes_still_count(tiny_spec, tmp_path, remote):
    broken = STACK_FILE.replace("dependsOn: [platform]", "dependsOn: [nowhere]")
    remote.commit("units, one depending on no unit", {**TINY_PROJECT, "Pulumi.dev.yaml": broken,
                                                       **objects("platform", "namespace"), **objects("web", "page")})
    head = pull_request(remote, {"Pulumi.dev.yaml": STACK_FILE, **objects("web", "banner")})
    workspace = PreviewWorkspace(tiny_spec, tmp_path / "state")

    affected = affected_units(workspace, [], "main", workspace.resolve(head))

    assert (names(affected.changed), affected.removed) == (["tiny.platform", "tiny.web"], [])


def test_a_stack_without_units_affects_none(tiny_spec, tmp_path, remote):
    remote.commit("no units", TINY_PROJECT)
    head = pull_request(remote, {"things.txt": "a\n"})
    workspace = PreviewWorkspace(tiny_spec, tmp_path / "state")

    affected = affected_units(workspace, [], "main", workspace.resolve(head))

    assert (affected.changed, affected.removed) == ([], [])


def test_a_stack_without_units_on_either_side_checks_nothing_out(tiny_spec, tmp_path, remote, monkeypatch):
    remote.commit("no units", {**TINY_PROJECT, **objects("web", "page")})
    head = pull_request(remote, objects("web", "banner"))
    workspace = PreviewWorkspace(tiny_spec, tmp_path / "state")
    checkouts: list[str] = []
    real_checkout = workspace.checkout
    monkeypatch.setattr(workspace, "checkout", lambda commit: checkouts.append(commit) or real_checkout(commit))

    affected = affected_units(workspace, [], "main", workspace.resolve(head))

    assert (affected.changed, affected.removed, checkouts) == ([], [], [])


def test_units_the_pull_request_turns_off_are_removed_and_the_ones_it_turns_on_previewed(tiny_spec, tmp_path, remote):
    remote.commit("units", {**TINY_PROJECT, "Pulumi.dev.yaml": STACK_FILE, **objects("platform", "namespace"),
                            **objects("web", "page")})
    off = pull_request(remote, {"Pulumi.dev.yaml": "config: {}\n"})
    workspace = PreviewWorkspace(tiny_spec, tmp_path / "state")

    turned_off = affected_units(workspace, [], "main", workspace.resolve(off))

    assert (turned_off.changed, names(turned_off.removed)) == ([], ["tiny.platform", "tiny.web"])


def test_a_pull_request_deleting_a_units_file_previews_that_unit(tiny_spec, tmp_path, remote):
    remote.commit("units", {**TINY_PROJECT, "Pulumi.dev.yaml": STACK_FILE, **objects("platform", "namespace"),
                            **objects("web", "page", "banner")})
    head = pull_request(remote, {"manifests/web/banner.yaml": None})
    workspace = PreviewWorkspace(tiny_spec, tmp_path / "state")

    affected = affected_units(workspace, [], "main", workspace.resolve(head))

    assert (names(affected.changed), affected.removed) == (["tiny.web"], [])
