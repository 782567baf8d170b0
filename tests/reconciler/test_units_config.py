"""Units as the reconciler makes them: the plan read from a real checkout, the unit stacks' settings, the records kept.

Everything here is real but the engine: a real remote, a real checkout, the real planner (manifest_loader.units).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reconciler.settings import ConfigError, ConfigOverride, load_config
from reconciler.source.checkout import StackCheckout
from reconciler.units.planning import UnitPlanError, read_plan
from reconciler.units.specs import UNIT_CONFIG_KEY, unit_spec
from reconciler.units.store import UnitStore
from reconciler.units.unit_set import UnitSet, unit_waves
from testsupport.reconciler_testing import TINY_PROJECT, tiny_stack, write_config

UNITS = """\
config:
  tiny:greeting: hello
  pulumi-gitops:units:
    split: folders
    units:
      web: {dependsOn: [platform]}
"""
MANIFESTS = {
    "manifests/platform/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    "manifests/apps/cart.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cart\n  namespace: shop\n",
    "manifests/web/page.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: page\n",
    "manifests/web/more.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: more\n",
}


@pytest.fixture
def project(remote):
    remote.commit("a project with units", {**TINY_PROJECT, "Pulumi.dev.yaml": UNITS, **MANIFESTS})
    return remote


def plan(spec, tmp_path: Path, commit: str):
    checkout = StackCheckout(spec, tmp_path / "plan")
    checkout.fetch(commit)
    return read_plan(spec, checkout, commit)


def test_each_folder_is_a_unit_in_dependency_order_with_the_paths_that_run_it(project, tiny_spec, tmp_path):
    records = plan(tiny_spec, tmp_path, project.head())

    assert [(r.name, r.unit, r.pulumi_stack, r.depends_on) for r in records] == [
        ("tiny.platform", "platform", "dev.platform", ()),
        ("tiny.apps", "apps", "dev.apps", ("platform",)),  # its ConfigMap lives in platform's Namespace
        ("tiny.web", "web", "dev.web", ("platform",)),  # dependsOn in the stack file
    ]
    web = records[2]
    assert web.files == ("web/more.yaml", "web/page.yaml")
    manifests = [path for path in web.paths if path.startswith("manifests")]
    assert manifests == ["manifests/web/more.yaml", "manifests/web/page.yaml"], "another unit's manifests never run it"
    assert {"Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py", "things.txt"} <= set(web.paths), \
        "the program, its stack file and everything else outside the manifests and the app run every unit"
    assert "manifests" not in web.paths


def test_a_project_in_a_folder_gets_paths_from_the_repository_root(remote, tiny_spec, tmp_path):
    files = {f"infra/{path}": text for path, text in {**TINY_PROJECT, "Pulumi.dev.yaml": UNITS, **MANIFESTS}.items()}
    remote.commit("the project under infra/", {**files, "README.md": "docs\n"})
    spec = dataclasses.replace(tiny_spec, project_dir="infra")

    web = plan(spec, tmp_path, remote.head())[2]

    assert "manifests/web/page.yaml" not in web.paths and "infra/manifests/web/page.yaml" in web.paths
    assert {"README.md", "infra/Pulumi.dev.yaml", "infra/__main__.py"} <= set(web.paths)
    assert "infra" not in web.paths and "infra/manifests" not in web.paths


def test_the_app_folder_runs_no_unit_its_image_reaches_them_through_the_parent(remote, tiny_spec, tmp_path):
    app = {"app/main.py": "print('hi')\n", "app/Dockerfile": "FROM scratch\n"}
    remote.commit("a project with an app", {**TINY_PROJECT, "Pulumi.dev.yaml": UNITS, **MANIFESTS, **app})

    web = plan(tiny_spec, tmp_path, remote.head())[2]

    assert not [path for path in web.paths if path.startswith("app")], "the parent's outputs run the units instead"
    assert {"Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py", "things.txt"} <= set(web.paths)


def test_an_app_folder_deeper_in_the_tree_leaves_its_neighbours_running_the_units(remote, tiny_spec, tmp_path):
    stack_file = UNITS.replace("config:\n", "config:\n  pulumi-gitops:appDir: src/app\n")
    files = {"src/app/main.py": "print('hi')\n", "src/lib.py": "X = 1\n", "app/notes.txt": "not the app\n"}
    remote.commit("the app under src/", {**TINY_PROJECT, "Pulumi.dev.yaml": stack_file, **MANIFESTS, **files})

    web = plan(tiny_spec, tmp_path, remote.head())[2]

    assert "src/lib.py" in web.paths and "app" in web.paths
    assert "src" not in web.paths and not [path for path in web.paths if path.startswith("src/app")]


def test_an_app_folder_that_is_the_whole_project_leaves_each_unit_its_own_files(remote, tiny_spec, tmp_path):
    stack_file = UNITS.replace("config:\n", "config:\n  pulumi-gitops:appDir: .\n")
    remote.commit("the whole project is the image", {**TINY_PROJECT, "Pulumi.dev.yaml": stack_file, **MANIFESTS})

    web = plan(tiny_spec, tmp_path, remote.head())[2]

    assert web.paths == ("manifests/web/more.yaml", "manifests/web/page.yaml"), \
        "any other change changes the image, and so the parent's outputs the unit reads"


def test_each_unit_claims_the_files_its_split_gives_it_deleted_ones_too(remote, tiny_spec, tmp_path):
    stack_file = UNITS.replace("      web: {dependsOn: [platform]}\n", "      web: {paths: [\"extra/*.yaml\"]}\n")
    remote.commit("units, one with extra paths", {**TINY_PROJECT, "Pulumi.dev.yaml": stack_file, **MANIFESTS,
                                                  "manifests/extra/one.yaml": MANIFESTS["manifests/web/page.yaml"].replace("page", "one"),
                                                  "manifests/top.yaml": MANIFESTS["manifests/web/more.yaml"].replace("more", "top")})

    claims = {record.unit: record.claims for record in plan(tiny_spec, tmp_path, remote.head())}

    assert claims["web"] == ("manifests/extra/*.yaml", "manifests/web/**")
    assert claims["root"] == ("manifests/root/**", "manifests/*"), "the files directly in the manifests folder"
    web = unit_spec(tiny_spec, plan(tiny_spec, tmp_path, remote.head())[-1])
    assert web.unit is not None and web.unit.claims == claims[web.unit.unit]


def test_a_store_written_before_claims_gets_the_column_and_reads_as_before(tmp_path):
    import sqlite3

    path = tmp_path / "status.sqlite"
    old = sqlite3.connect(path)
    old.executescript(UNIT_STORE_BEFORE_CLAIMS)
    old.execute("INSERT INTO units VALUES ('tiny.web', 'tiny', 'web', 'dev.web', 0, '[\"web/a.yaml\"]', '[]', "
                "'[\"manifests/web/a.yaml\"]', 'abc', NULL)")
    old.commit()
    old.close()

    store = UnitStore(path)
    try:
        (record,) = store.of("tiny")
        assert (record.files, record.claims) == (("web/a.yaml",), ())
        store.save(dataclasses.replace(record, claims=("manifests/web/**",)))
        assert store.of("tiny")[0].claims == ("manifests/web/**",)
    finally:
        store.close()


UNIT_STORE_BEFORE_CLAIMS = """
CREATE TABLE units (name TEXT PRIMARY KEY, parent TEXT NOT NULL, unit TEXT NOT NULL, pulumi_stack TEXT NOT NULL,
    position INTEGER NOT NULL, files TEXT NOT NULL, depends_on TEXT NOT NULL, paths TEXT NOT NULL,
    planned_at TEXT NOT NULL, removed_at TEXT);
"""


def test_the_manifests_folder_the_reconciler_overrides_is_the_one_planned(remote, tiny_spec, tmp_path):
    moved = {path.replace("manifests/", "k8s/"): text for path, text in MANIFESTS.items()}
    remote.commit("manifests in k8s/", {**TINY_PROJECT, "Pulumi.dev.yaml": UNITS, **moved})
    spec = dataclasses.replace(tiny_spec, config=(ConfigOverride("pulumi-gitops:manifestsDir", "k8s"),))

    records = plan(spec, tmp_path, remote.head())

    assert [r.unit for r in records] == ["platform", "apps", "web"]
    assert "k8s/web/page.yaml" in records[2].paths


def test_a_stack_file_without_units_has_no_plan(remote, tiny_spec, tmp_path):
    remote.commit("no units", {**TINY_PROJECT, **MANIFESTS})
    assert plan(tiny_spec, tmp_path, remote.head()) is None


def test_bad_units_are_an_error_naming_the_stack_the_commit_the_file_and_the_key(remote, tiny_spec, tmp_path):
    bad = UNITS.replace("web: {dependsOn: [platform]}", "web: {dependsOn: [nowhere]}")
    commit = remote.commit("a dependency on nothing", {**TINY_PROJECT, "Pulumi.dev.yaml": bad, **MANIFESTS})

    with pytest.raises(UnitPlanError) as raised:
        plan(tiny_spec, tmp_path, commit)

    message = str(raised.value)
    assert message.startswith(f"tiny at {commit[:12]}: Pulumi.dev.yaml: pulumi-gitops:units.units.web.dependsOn")
    assert "there is no unit 'nowhere'" in message


def test_a_unit_stack_has_its_parents_settings_its_own_name_and_the_unit_key(project, tiny_spec, tmp_path):
    parent = dataclasses.replace(tiny_spec, env=(("TINY_MODE", "units"),), config=(ConfigOverride("tiny:greeting", "hi"),),
                                 deletion_guard=0, promote_from="elsewhere")
    web = plan(parent, tmp_path, project.head())[2]

    spec = unit_spec(parent, web)

    assert (spec.name, spec.stack, spec.paths) == ("tiny.web", "dev.web", web.paths)
    same = ("repo_url", "branch", "backend_url", "passphrase", "env", "virtualenv", "deletion_guard", "resync_interval")
    assert all(getattr(spec, field) == getattr(parent, field) for field in same)
    assert [(o.key, o.value, o.secret) for o in spec.config] == [("tiny:greeting", "hi", False), (UNIT_CONFIG_KEY, "web", False)]
    assert spec.unit is not None and (spec.unit.parent, spec.unit.unit) == ("tiny", "web")
    assert spec.unit.waits_for == ("tiny", "tiny.platform"), "the parent first, then the units it depends on"
    assert spec.promote_from is None, "a unit follows its parent, not the parent's upstream"


def test_a_qualified_stack_name_gets_the_suffix_on_its_last_segment(project, tiny_spec, tmp_path):
    parent = dataclasses.replace(tiny_spec, stack="organization/tiny/dev")
    assert plan(parent, tmp_path, project.head())[0].pulumi_stack == "organization/tiny/dev.platform"


def test_a_new_plan_adds_units_marks_gone_ones_removed_and_brings_back_a_returning_one(project, tiny_spec, tmp_path):
    store = UnitStore(tmp_path / "status.sqlite")
    units = UnitSet(store, tmp_path)
    first = project.head()

    added = units.plan(tiny_spec, first)
    again = units.plan(tiny_spec, first)
    gone = project.commit("web goes", {"manifests/web": None, "Pulumi.dev.yaml": UNITS.replace("      web: {dependsOn: [platform]}\n", "")})
    removed = units.plan(tiny_spec, gone)
    while_gone = [(r.name, r.removed_at) for r in store.of("tiny")]
    back = project.commit("web is back", {**MANIFESTS, "Pulumi.dev.yaml": UNITS})
    returned = units.plan(tiny_spec, back)

    assert added.added == ["tiny.platform", "tiny.apps", "tiny.web"] and not added.removed
    assert again.added == [] and again.removed == [], "one commit is planned once"
    assert (removed.added, removed.removed) == ([], ["tiny.web"])
    assert while_gone == [("tiny.platform", None), ("tiny.apps", None), ("tiny.web", gone)]
    assert [(r.name, r.removed_at, r.planned_at) for r in store.of("tiny")][2] == ("tiny.web", None, back)
    assert returned.added == [] and returned.removed == []
    store.close()


def test_a_plan_that_cannot_be_read_keeps_the_units_as_they_were(project, tiny_spec, tmp_path):
    store = UnitStore(tmp_path / "status.sqlite")
    units = UnitSet(store, tmp_path)
    units.plan(tiny_spec, project.head())
    broken = project.commit("a cycle", {"Pulumi.dev.yaml": UNITS.replace("    units:\n", "    units:\n      platform: {dependsOn: [web]}\n")})

    change = units.plan(tiny_spec, broken)

    assert change.error is not None and "depend on each other" in change.error
    assert [(r.name, r.removed_at) for r in store.of("tiny")] == [("tiny.platform", None), ("tiny.apps", None), ("tiny.web", None)]
    store.close()


def test_waves_put_dependencies_first_and_removals_before_everything(project, tiny_spec, tmp_path):
    records = plan(tiny_spec, tmp_path, project.head())
    gone = dataclasses.replace(records[1], removed_at="f" * 40)

    assert unit_waves(records) == [["tiny.platform"], ["tiny.apps", "tiny.web"]]
    assert unit_waves([records[0], records[2], gone]) == [["tiny.apps"], ["tiny.platform"], ["tiny.web"]]


def test_units_parallel_defaults_to_four_and_must_be_at_least_one(remote, tmp_path):
    entry = tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None)
    assert load_config(write_config(tmp_path / "a.yaml", [entry])).stacks[0].units_parallel == 4
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(tmp_path / "b.yaml", [{**entry, "units_parallel": 0}]))
    assert "units_parallel" in str(raised.value) and "at least 1, got 0" in str(raised.value)
