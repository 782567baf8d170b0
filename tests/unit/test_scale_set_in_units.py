"""The scale benchmark's units layout: the set's objects in folders of ~100, planned as `split: folders` units."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from manifest_loader.units import plan_units, read_unit_settings
from testsupport.git_repos import commit_all, init_repo
from testsupport.scale_manifests import PLATFORM_UNIT, ManifestSet


def folders(manifest_set: ManifestSet) -> Counter[str]:
    return Counter(obj.path.split("/", 1)[0] for obj in manifest_set.objects)


def test_the_crd_and_namespaces_go_to_the_platform_folder_and_the_rest_to_folders_of_about_100() -> None:
    stack = ManifestSet.generate(1000, "u1k")

    units = stack.in_units()

    assert {(o.kind, o.namespace, o.name) for o in units.objects} == {(o.kind, o.namespace, o.name) for o in stack.objects}
    platform = {o.kind for o in units.objects if o.path.startswith(f"{PLATFORM_UNIT}/")}
    assert platform == {"CustomResourceDefinition", "Namespace"}
    apps = {name: count for name, count in folders(units).items() if name != PLATFORM_UNIT}
    assert len(apps) == 10
    assert all(80 <= count <= 120 for count in apps.values()), apps
    assert len({o.path for o in units.objects}) == len(units.objects), "one object per file"


def test_changes_and_deletions_keep_each_object_in_its_folder() -> None:
    units = ManifestSet.generate(1000, "u1k").in_units()

    smaller = units.with_changes(0.10).without(0.10)

    where = {(o.kind, o.namespace, o.name): o.path for o in units.objects}
    assert all(where[(o.kind, o.namespace, o.name)] == o.path for o in smaller.objects)
    assert set(folders(smaller)) == set(folders(units)), "deleting 10% empties no unit"


def test_planned_as_folder_units_every_apps_unit_depends_on_the_platform_unit(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    ManifestSet.generate(500, "u500").in_units().write(root / "manifests")
    commit_all(init_repo(root), "the set in units")

    plan = plan_units(root / "manifests", read_unit_settings({"split": "folders"}, "Pulumi.bench.yaml"))

    assert plan.units[0].name == PLATFORM_UNIT and plan.units[0].depends_on == ()
    assert [unit.depends_on for unit in plan.units[1:]] == [(PLATFORM_UNIT,)] * 5
