"""Units on the real engine: a provider-free tiny project whose stack file declares units, one Pulumi stack each.

The program makes one resource per manifest file of its unit (`pulumi-gitops:unit`), or, for the parent, one
of its own. What the tests read is what a person reads: `once --json`, `status --json`, the status store's
runs and the backend's stacks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.status.store import StatusStore
from testsupport.fake_github import serve_fake_github
from testsupport.pull_request_events import LabelledPullRequest, signed_event
from testsupport.reconciler_testing import TINY_PROJECT, free_port, json_lines, run_cli, tiny_stack, write_config
from testsupport.tiny_units import PROGRAM, STACK_FILE, applied_commit, objects

pytestmark = pytest.mark.e2e
WEBHOOK_SECRET = "units-webhook-secret"

@pytest.fixture
def project(remote):
    remote.commit("a project in units", {
        **TINY_PROJECT, "__main__.py": PROGRAM, "Pulumi.dev.yaml": STACK_FILE,
        **objects("platform", "namespace"), **objects("web", "page", "cart"),
        **objects("api", "server"), "manifests/api/meet.txt": "jobs\n",
        **objects("jobs", "nightly"), "manifests/jobs/meet.txt": "api\n",
    })
    return remote


def config_file(tmp_path: Path, remote, top: dict | None = None, **parent: object) -> Path:
    entry = tiny_stack(remote, tmp_path / "backend", env={"TINY_RENDEZVOUS": str(tmp_path / "rendezvous")}, **parent)
    (tmp_path / "rendezvous").mkdir(exist_ok=True)
    return write_config(tmp_path / "reconciler.yaml", [entry], **(top or {}))


def once(config: Path, env: dict) -> tuple[int, dict[str, dict]]:
    done = run_cli("once", "--config", str(config), "--json", env=env)
    lines = json_lines(done.stdout)
    assert lines, done.stderr[-3000:]
    return done.returncode, {line["stack"]: line for line in lines}


def results(lines: dict[str, dict]) -> dict[str, tuple[str, str | None]]:
    return {stack: (line["result"], line["reason"]) for stack, line in lines.items()}


def applied_run(store: StatusStore, stack: str, commit: str) -> dict:
    return next(run for run in store.runs(stack) if run["commit"] == commit and run["result"] == "applied")


def test_units_run_in_dependency_order_side_by_side_only_when_their_files_change_and_a_failure_holds_only_dependents(
    project, tmp_path, engine_env,
):
    config = config_file(tmp_path, project)
    first = project.head()

    code, lines = once(config, engine_env)

    assert code == 0, lines
    assert list(lines)[0] == "tiny", "the parent runs first: the plan is read at the commit it is in sync at"
    assert results(lines) == {name: ("applied", None) for name in ("tiny", "tiny.api", "tiny.jobs", "tiny.platform", "tiny.web")}
    assert {name: lines[name]["changes"]["create"] for name in lines} == {
        "tiny": 2, "tiny.platform": 2, "tiny.web": 3, "tiny.api": 2, "tiny.jobs": 2}, "the stack and one resource per file"
    store = StatusStore(tmp_path / "reconciler-state" / "status.sqlite", read_only=True)
    try:
        platform, web = applied_run(store, "tiny.platform", first), applied_run(store, "tiny.web", first)
        assert platform["finished_at"] <= web["started_at"], "web depends on platform: it starts once platform is applied"
    finally:
        store.close()
    # api and jobs meet each other in their programs: both applied means they ran side by side.

    only_jobs = project.commit("one more job", objects("jobs", "weekly"))
    code, lines = once(config, engine_env)

    assert code == 0
    assert results(lines) == {"tiny": ("applied", None), "tiny.jobs": ("applied", None), "tiny.api": ("skipped", None),
                              "tiny.platform": ("skipped", None), "tiny.web": ("skipped", None)}
    assert lines["tiny.jobs"]["changes"]["create"] == 1 and lines["tiny.jobs"]["commit"] == only_jobs

    broken = project.commit("platform breaks, jobs grows", {"manifests/platform/fail.yaml": "# a broken namespace\n",
                                                           **objects("jobs", "hourly")})
    code, lines = once(config, engine_env)

    assert code == 1
    assert results(lines)["tiny.platform"] == ("failed", "ProgramError")
    assert results(lines)["tiny.web"] == ("failed", "DependencyNotReady")
    assert lines["tiny.web"]["error"] == f"waiting for tiny.platform: its last run failed (ProgramError); {broken[:12]} is applied once tiny.platform is healthy again"
    assert results(lines)["tiny.jobs"] == ("applied", None), "an independent unit goes on"
    status = {entry["stack"]: entry for entry in json_lines(run_cli("status", "--config", str(config), "--json", env=engine_env).stdout)}
    assert list(status) == ["tiny", "tiny.api", "tiny.jobs", "tiny.platform", "tiny.web"], "each unit under its parent, in plan order"
    assert status["tiny.web"]["unit"] == {"parent": "tiny", "unit": "web", "depends_on": ["platform"], "files": 2,
                                          "planned_at": broken, "removed_at": None}
    web_conditions = {c["type"]: (c["status"], c["reason"]) for c in status["tiny.web"]["conditions"]}
    assert web_conditions["Reconciling"] == ("True", "DependencyNotReady")
    assert status["tiny.web"]["last_applied_commit"] == first


def test_a_commit_deleting_a_units_file_deletes_its_object_through_that_unit_only(project, tmp_path, engine_env):
    config = config_file(tmp_path, project)
    assert once(config, engine_env)[0] == 0

    project.commit("no more cart", {"manifests/web/cart.yaml": None})
    code, lines = once(config, engine_env)

    assert code == 0
    assert results(lines) == {"tiny": ("applied", None), "tiny.web": ("applied", None), "tiny.api": ("skipped", None),
                              "tiny.jobs": ("skipped", None), "tiny.platform": ("skipped", None)}
    assert lines["tiny.web"]["changes"]["delete"] == 1, "the file is in none of today's paths: its unit runs all the same"


def test_a_commit_to_the_app_runs_the_units_only_when_the_parents_image_changes(project, tmp_path, engine_env):
    project.commit("the app", {"app/version.txt": "1\n", "app/notes.md": "first\n"})
    config = config_file(tmp_path, project)
    assert once(config, engine_env)[0] == 0
    units = ("tiny.api", "tiny.jobs", "tiny.platform", "tiny.web")

    project.commit("the app's notes", {"app/notes.md": "second\n"})
    code, same_image = once(config, engine_env)
    project.commit("the app's next version", {"app/version.txt": "2\n"})
    code_new, new_image = once(config, engine_env)

    assert code == code_new == 0
    assert results(same_image) == {"tiny": ("applied", None), **{unit: ("skipped", None) for unit in units}}
    assert results(new_image) == {name: ("applied", None) for name in ("tiny", *units)}, \
        "every unit reads the parent's image: each runs again"
    state_dir = tmp_path / "reconciler-state"
    store = StatusStore(state_dir / "status.sqlite", read_only=True)
    try:
        digest = store.stack_state("tiny").outputs_digest
    finally:
        store.close()
    assert digest is not None
    kept = b"".join(path.read_bytes() for path in state_dir.glob("status.sqlite*"))
    assert b"tiny-kubeconfig-s3cr3t" not in kept and b"tiny-app:2" not in kept, "only a digest of the outputs is kept"


def test_a_removed_unit_is_destroyed_only_through_the_deletion_guard(project, tmp_path, engine_env):
    config = config_file(tmp_path, project, deletion_guard=0)
    assert once(config, engine_env)[0] == 0
    stacks = tmp_path / "backend" / ".pulumi" / "stacks" / "tiny"
    assert (stacks / "dev.web.json").exists()

    gone = project.commit("web goes", {"manifests/web": None, "Pulumi.dev.yaml": "config:\n  pulumi-gitops:units: {split: folders}\n"})
    code, lines = once(config, engine_env)

    assert code == 1
    assert results(lines)["tiny.web"] == ("blocked", "DeletionGuard")
    assert lines["tiny.web"]["error"] == (
        f"unit web is no longer in the plan at {gone[:12]}: removing its stack dev.web: the preview deletes or replaces 2 "
        "resource(s), over this stack's deletion guard of 0; commit with the trailer `Allow-Deletes: 2` to allow it; "
        "until then the stack stays")
    others = {name: (line["result"], line["changes"]["create"] + line["changes"]["delete"]) for name, line in lines.items() if name != "tiny.web"}
    assert others == {name: ("applied", 0) for name in ("tiny", "tiny.platform", "tiny.api", "tiny.jobs")}, \
        "the stack file changed: every unit runs, and none changes"
    assert (stacks / "dev.web.json").exists(), "blocked: the stack stays"
    status = {entry["stack"]: entry for entry in json_lines(run_cli("status", "--config", str(config), "--json", env=engine_env).stdout)}
    assert status["tiny.web"]["unit"]["removed_at"] == gone and status["tiny.web"]["reason"] == "DeletionGuard"

    project.commit("remove web\n\nAllow-Deletes: 2")
    code, lines = once(config, engine_env)

    assert code == 0, lines
    assert results(lines)["tiny.web"] == ("applied", None) and lines["tiny.web"]["changes"]["delete"] >= 3
    assert not (stacks / "dev.web.json").exists(), "destroyed, then removed from the backend"
    status = [entry["stack"] for entry in json_lines(run_cli("status", "--config", str(config), "--json", env=engine_env).stdout)]
    assert status == ["tiny", "tiny.api", "tiny.jobs", "tiny.platform"]
    code, lines = once(config, engine_env)
    assert code == 0 and "tiny.web" not in lines


def test_the_service_runs_units_after_their_parent_makes_and_removes_a_units_stack_and_shows_each_unit(
    project, tmp_path, engine_env, start_service,
):
    port = free_port()
    config = config_file(tmp_path, project, top={"listen": f"127.0.0.1:{port}", "workers": 4})
    service = start_service(config, engine_env, port)
    first = project.head()
    units = ("tiny.api", "tiny.jobs", "tiny.platform", "tiny.web")
    service.wait_until(lambda: all(applied_commit(service, name) == first for name in units), 180, "every unit applied")

    new = project.commit("a new unit", objects("cache", "redis", "sentinel"))
    service.wait_until(lambda: applied_commit(service, "tiny.cache") == new, 180, "the new unit's stack applied")
    cache = service.stack("tiny.cache")

    assert cache["unit"] == {"parent": "tiny", "unit": "cache", "depends_on": [], "files": 2, "planned_at": new, "removed_at": None}
    assert cache["pulumi_stack"] == "dev.cache" and cache["last_run"]["changes"]["create"] == 3
    assert (tmp_path / "backend" / ".pulumi" / "stacks" / "tiny" / "dev.cache.json").exists()
    metrics = service.get("/metrics")[1].decode()
    assert 'reconciler_stack_ready{stack="tiny.cache"} 1.0' in metrics

    project.commit("the cache goes", {"manifests/cache": None})
    service.wait_until(lambda: applied_commit(service, "tiny") == project.head(), 180, "the parent at the commit")
    service.wait_until(lambda: not (tmp_path / "backend" / ".pulumi" / "stacks" / "tiny" / "dev.cache.json").exists(), 180,
                       "the removed unit's stack destroyed (no deletion guard)")
    service.wait_until(lambda: applied_commit(service, "tiny.cache") is None, 30, "the removed unit gone from /status")
    assert service.stop() == 0
    store = StatusStore(tmp_path / "reconciler-state" / "status.sqlite", read_only=True)
    try:
        assert applied_run(store, "tiny", new)["finished_at"] <= applied_run(store, "tiny.cache", new)["started_at"], \
            "the plan that made the unit is read at the commit the parent is in sync at"
    finally:
        store.close()


def test_a_pull_request_previews_the_parent_and_only_the_units_whose_files_it_changes(project, tmp_path, engine_env, start_service):
    with serve_fake_github() as github:
        env = {**engine_env, "GITHUB_TOKEN": github.token, "WEBHOOK_SECRET": WEBHOOK_SECRET}
        port = free_port()
        config = config_file(tmp_path, project, top={"listen": f"127.0.0.1:{port}", "github": {"api_url": github.url},
                                                     "webhook": {"secret": {"env": "WEBHOOK_SECRET"}}})
        service = start_service(config, env, port)
        first = project.head()
        service.wait_until(lambda: applied_commit(service, "tiny.web") == first, 180, "web applied")
        pull = LabelledPullRequest(project, github, "example/tiny", 5, ("preview",))
        pull.push("a banner on the web", objects("web", "banner"))

        body = pull.event("opened")
        assert service.post("/hooks/github", body, signed_event(WEBHOOK_SECRET, body))[0] == 202
        service.wait_until(lambda: preview_comments(github), 300, "the previews posted")
        web = service.wait_until(lambda: preview_comments(github).get("tiny.web"), 300, "web's preview")
        assert service.stop() == 0

    # The units' previews follow the plan's order and web comes last: every unit previewed has its comment by now.
    assert set(preview_comments(github)) == {"tiny", "tiny.web"}
    assert "web-banner" in web and "dev.web" in web


def preview_comments(github) -> dict[str, str]:
    prefix = "<!-- pulumi-gitops-preview stack="
    return {c["body"][len(prefix):].split(" ", 1)[0]: c["body"] for c in github.comments_on("example", "tiny", 5)
            if c["body"].startswith(prefix)}


def test_a_stack_file_without_units_makes_no_unit_and_no_plan_checkout(remote, tmp_path, engine_env):
    remote.commit("no units", TINY_PROJECT)
    config = config_file(tmp_path, remote)

    code, lines = once(config, engine_env)

    assert code == 0 and list(lines) == ["tiny"]
    workspaces = tmp_path / "reconciler-state" / "workspaces"
    assert sorted(path.name for path in workspaces.iterdir()) == ["tiny"], "the stack file was read from the stack's own clone"
