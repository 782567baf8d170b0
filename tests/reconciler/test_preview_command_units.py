"""`python -m reconciler preview` of a parent of units on the real engine: the parent, then each unit the ref changes.

The tiny units project (testsupport/tiny_units.py) is applied by `once`; a pull request then changes one unit's
files, adds a unit and removes one. The command previews the parent, the changed unit (planned at the ref), the
added unit (which has no stack yet) and what removing the removed one deletes, saying which trailer the deletion
guard needs; it prints them all, and with --post keeps one comment per stack, as the service does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testsupport.fake_github import serve_fake_github
from testsupport.pull_request_events import LabelledPullRequest
from testsupport.reconciler_testing import TINY_PROJECT, json_lines, run_cli, tiny_stack, write_config
from testsupport.tiny_units import PROGRAM, STACK_FILE, objects

pytestmark = pytest.mark.e2e
OWNER, REPO, NUMBER = "example", "tiny", 9
MARKER = "<!-- pulumi-gitops-preview stack="


def comments_by_stack(github) -> dict[str, str]:
    return {c["body"][len(MARKER):].split(" ", 1)[0]: c["body"] for c in github.comments_on(OWNER, REPO, NUMBER)
            if c["body"].startswith(MARKER)}


def test_a_preview_covers_the_units_the_ref_changes_and_posts_one_comment_per_stack(remote, tmp_path: Path, engine_env):
    remote.commit("a project in units", {
        **TINY_PROJECT, "__main__.py": PROGRAM, "Pulumi.dev.yaml": STACK_FILE,
        **objects("platform", "namespace"), **objects("web", "page"), **objects("jobs", "nightly"),
    })
    with serve_fake_github() as github:
        config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend", deletion_guard=0)],
                              github={"api_url": github.url})
        env = {**engine_env, "GITHUB_TOKEN": github.token}
        applied = run_cli("once", "--config", str(config), "--json", env=env)
        assert applied.returncode == 0, applied.stderr[-3000:]
        assert {line["stack"] for line in json_lines(applied.stdout)} == {"tiny", "tiny.platform", "tiny.web", "tiny.jobs"}
        pull = LabelledPullRequest(remote, github, f"{OWNER}/{REPO}", NUMBER, ())
        head = pull.push("a banner on the web, a cache, no more jobs",
                         {**objects("web", "banner"), **objects("cache", "redis"), "manifests/jobs": None})

        def preview(output_format: str):
            return run_cli("preview", "--config", str(config), "--stack", "tiny", "--ref", f"refs/pull/{NUMBER}/head",
                           "--base", "main", "--format", output_format, "--post", "--pull-request", f"{OWNER}/{REPO}#{NUMBER}",
                           env=env)

        done = preview("json")

        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout)
        assert (report["stack"], report["commit"], report["result"]) == ("tiny", head, "previewed")
        units = {unit["stack"]: unit for unit in report["units"]}
        assert list(units) == ["tiny.cache", "tiny.web", "tiny.jobs"], \
            "the units the pull request changes, in the plan's order (platform is not), then the one it removes"
        web = units["tiny.web"]
        assert (web["result"], web["new_stack"], web["changes"]["create"]) == ("previewed", False, 1)
        assert [resource["name"] for resource in web["resources"]] == ["web-banner"]
        cache = units["tiny.cache"]
        assert (cache["result"], cache["new_stack"]) == ("failed", True)
        assert "stack dev.cache does not exist" in cache["error"]
        jobs = units["tiny.jobs"]
        assert (jobs["result"], jobs["destructive"]) == ("previewed", [
            "urn:pulumi:dev.jobs::tiny::tiny:index:Object::jobs-nightly", "urn:pulumi:dev.jobs::tiny::pulumi:pulumi:Stack::tiny-dev.jobs",
        ]), "what destroying its stack deletes; the guard counts what the unit deploys (1), not its stack"
        assert jobs["note"] == (
            "This pull request removes unit `jobs`: once it is merged, the reconciler destroys the unit's stack `dev.jobs` "
            "and removes it from its backend only through the deletion guard of 0: a commit since the unit was last "
            "applied (in this pull request, or after it) must carry the trailer `Allow-Deletes: 1`; until then its stack "
            "stays, blocked.")
        assert set(comments_by_stack(github)) == {"tiny", "tiny.web", "tiny.cache", "tiny.jobs"}
        assert "`Allow-Deletes: 1`" in comments_by_stack(github)["tiny.jobs"]
        assert done.stderr.count("created http") == 4

        again = preview("markdown")

        assert again.returncode == 0, again.stderr[-3000:]
        starts = [again.stdout.index(f"{MARKER}{stack} -->") for stack in ("tiny", "tiny.cache", "tiny.web", "tiny.jobs")]
        assert starts == sorted(starts), "the parent's comment, then each unit's"
        assert again.stderr.count("updated http") == 4 and len(github.comments_on(OWNER, REPO, NUMBER)) == 4
        assert "web-banner" in comments_by_stack(github)["tiny.web"]
        assert github.token not in again.stdout + again.stderr

        pull.push("the web breaks", {"manifests/web/fail.yaml": "a page without a title\n"})
        broken = preview("json")

        assert broken.returncode == 1, "a unit whose stack exists failed"
        web = {unit["stack"]: unit for unit in json.loads(broken.stdout)["units"]}["tiny.web"]
        assert (web["result"], web["new_stack"]) == ("failed", False)
        assert "a page without a title" in web["error"]
        assert "a page without a title" in comments_by_stack(github)["tiny.web"]
