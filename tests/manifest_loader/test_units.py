"""Units: settings read from the stack file, and the plan of committed manifests (real Git repositories)."""

from __future__ import annotations

import pytest

from manifest_loader import load_manifests
from manifest_loader.units import (
    Unit,
    UnitError,
    parent_stack_name,
    plan_units,
    read_unit_settings,
    read_units_from_stack_file,
    unit_stack_name,
)

SOURCE = "Pulumi.dev.yaml"
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: apps}\n"


def namespace(name):
    return f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n"


def plan(work_tree, files, raw, **kwargs):
    for path, content in files.items():
        work_tree.write(path, content)
    if work_tree.repo.is_dirty(untracked_files=True):
        work_tree.commit()
    return plan_units(work_tree.root / "manifests", read_unit_settings(raw, SOURCE), **kwargs)


def test_folders_make_one_unit_each_and_top_level_files_the_root_unit(work_tree):
    result = plan(work_tree, {
        "manifests/top.yaml": work_tree.config_map("top"),
        "manifests/web/a.yaml": work_tree.config_map("a"),
        "manifests/web/deep/b.yml": work_tree.config_map("b"),
        "manifests/web/notes.txt": "not a manifest",
        "manifests/db/c.yaml": work_tree.config_map("c"),
    }, {"split": "folders"})

    assert result.units == (
        Unit("db", ("db/c.yaml",), ()),
        Unit("root", ("top.yaml",), ()),
        Unit("web", ("web/a.yaml", "web/deep/b.yml"), ()),
    )


def test_a_unit_holding_a_namespace_is_deployed_before_the_units_whose_objects_live_in_it(work_tree):
    result = plan(work_tree, {
        "manifests/platform/ns.yaml": namespace("apps"),
        "manifests/apps/cm.yaml": work_tree.config_map("a", namespace="apps"),
        "manifests/zz/cm.yaml": work_tree.config_map("z"),  # the default namespace: no dependency
    }, {})

    assert [unit.name for unit in result.units] == ["platform", "apps", "zz"]
    assert result.get("apps").depends_on == ("platform",)
    assert result.get("zz").depends_on == ()


def test_objects_naming_no_namespace_depend_on_the_unit_holding_the_default_namespace(work_tree):
    files = {"manifests/platform/ns.yaml": namespace("demo"), "manifests/apps/cm.yaml": work_tree.config_map("a")}

    unplanned = plan(work_tree, files, {}, default_namespace="demo")
    loaded = load_manifests(work_tree.root, "manifests", default_namespace="demo")
    from_loaded = plan_units(work_tree.root / "manifests", read_unit_settings({}, SOURCE), loaded)

    assert unplanned.get("apps").depends_on == ("platform",)
    assert from_loaded == unplanned


def test_a_unit_using_a_custom_kind_depends_on_the_unit_holding_its_crd(work_tree):
    result = plan(work_tree, {
        "manifests/crds/widgets.yaml": CRD,
        "manifests/base/ns.yaml": namespace("apps"),
        "manifests/apps/widget.yaml": WIDGET,
    }, {})

    assert result.get("apps").depends_on == ("base", "crds")
    assert [unit.name for unit in result.units] == ["base", "crds", "apps"]


def test_folder_entries_add_depends_on_and_paths(work_tree):
    result = plan(work_tree, {
        "manifests/platform/a.yaml": work_tree.config_map("a"),
        "manifests/apps/b.yaml": work_tree.config_map("b"),
        "manifests/extra/c.yaml": work_tree.config_map("c"),
        "manifests/extra/sub/d.yaml": work_tree.config_map("d"),
    }, {"units": {"apps": {"paths": ["extra/*.yaml"], "dependsOn": ["platform"]}}})

    assert result.units == (
        Unit("extra", ("extra/sub/d.yaml",), ()),
        Unit("platform", ("platform/a.yaml",), ()),
        Unit("apps", ("apps/b.yaml", "extra/c.yaml"), ("platform",)),
    )


def test_globs_make_only_the_listed_units_and_double_star_spans_folders(work_tree):
    result = plan(work_tree, {
        "manifests/platform/x/ns.yaml": namespace("apps"),
        "manifests/apps/one.yaml": work_tree.config_map("one", namespace="apps"),
        "manifests/top.yaml": work_tree.config_map("top", namespace="apps"),
    }, {"split": "globs", "units": {"base": {"paths": ["platform/**"]}, "apps": {"paths": ["apps/**", "*.yaml"]}}})

    assert result.units == (Unit("base", ("platform/x/ns.yaml",), ()), Unit("apps", ("apps/one.yaml", "top.yaml"), ("base",)))


def test_with_globs_a_file_in_no_unit_is_an_error_naming_it(work_tree):
    with pytest.raises(UnitError, match=r"Pulumi\.dev\.yaml: pulumi-gitops:units: the manifest stray/x\.yaml is in no "
                                        r"unit .*add it to a unit's paths"):
        plan(work_tree, {"manifests/apps/a.yaml": work_tree.config_map("a"), "manifests/stray/x.yaml": work_tree.config_map("x")},
             {"split": "globs", "units": {"apps": {"paths": ["apps/**"]}}})


def test_a_file_matched_by_two_units_is_an_error_naming_both(work_tree):
    with pytest.raises(UnitError, match=r"the manifest apps/a\.yaml is matched by two units, apps \(paths 'apps/\*\*'\) "
                                        r"and more \(paths '\*\*/a\.yaml'\)"):
        plan(work_tree, {"manifests/apps/a.yaml": work_tree.config_map("a")},
             {"split": "globs", "units": {"apps": {"paths": ["apps/**"]}, "more": {"paths": ["**/a.yaml"]}}})


def test_with_folders_paths_take_a_file_from_its_folder_unit_but_two_entries_may_not_share_it(work_tree):
    files = {"manifests/apps/a.yaml": work_tree.config_map("a"), "manifests/web/b.yaml": work_tree.config_map("b")}

    result = plan(work_tree, files, {"units": {"web": {"paths": ["apps/a.yaml"]}}})

    assert result.units == (Unit("web", ("apps/a.yaml", "web/b.yaml"), ()),)
    with pytest.raises(UnitError, match=r"apps/a\.yaml is matched by two units, apps \(paths 'apps/\*\*'\) and web"):
        plan(work_tree, files, {"units": {"web": {"paths": ["apps/a.yaml"]}, "apps": {"paths": ["apps/**"]}}})


def test_a_cycle_of_explicit_and_automatic_dependencies_names_its_units(work_tree):
    with pytest.raises(UnitError, match=r"the units apps -> platform -> apps depend on each other"):
        plan(work_tree, {
            "manifests/platform/ns.yaml": namespace("apps"),
            "manifests/apps/cm.yaml": work_tree.config_map("a", namespace="apps"),
            "manifests/other/cm.yaml": work_tree.config_map("o"),
        }, {"units": {"platform": {"dependsOn": ["apps"]}}})


def test_depends_on_an_unknown_unit_or_an_entry_without_a_folder_is_an_error(work_tree):
    files = {"manifests/apps/a.yaml": work_tree.config_map("a")}
    with pytest.raises(UnitError, match=r"pulumi-gitops:units\.units\.apps\.dependsOn: there is no unit 'platfrom' "
                                        r"\(units: apps\); fix the name"):
        plan(work_tree, files, {"units": {"apps": {"dependsOn": ["platfrom"]}}})
    with pytest.raises(UnitError, match=r"units\.ap: there is no folder ap/ with manifests; fix the name, give the unit"):
        plan(work_tree, files, {"units": {"ap": {}}})


def test_a_folder_that_cannot_name_a_unit_is_an_error_saying_what_to_do(work_tree):
    with pytest.raises(UnitError, match=r"the folder My_Apps/ makes a unit .*rename the folder or use split: globs"):
        plan(work_tree, {"manifests/My_Apps/a.yaml": work_tree.config_map("a")}, {})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("folders", r"pulumi-gitops:units: must be a map with split and units"),
        ({"split": "files"}, r"pulumi-gitops:units\.split: must be one of folders, globs, got 'files'"),
        ({"splitt": "globs"}, r"pulumi-gitops:units\.splitt: is not a setting"),
        ({"units": ["a"]}, r"pulumi-gitops:units\.units: must be a map of unit name"),
        ({"units": {"Apps": {}}}, r"pulumi-gitops:units\.units\.Apps: 'Apps' is not a unit name; use lowercase"),
        ({"units": {"a" * 41: {}}}, r"pulumi-gitops:units\.units\.a+: .a+. is not a unit name; .*at most 40 characters"),
        ({"units": {"apps": {"path": ["x"]}}}, r"pulumi-gitops:units\.units\.apps\.path: is not a unit setting"),
        ({"units": {"apps": {"paths": "apps/**"}}}, r"pulumi-gitops:units\.units\.apps\.paths: must be a list of globs"),
        ({"units": {"apps": {"paths": ["../x/*"]}}}, r"pulumi-gitops:units\.units\.apps\.paths: '\.\./x/\*' must be a glob relative"),
        ({"units": {"apps": {"dependsOn": ["apps"]}}}, r"pulumi-gitops:units\.units\.apps\.dependsOn: names the unit itself"),
        ({"split": "globs", "units": {"apps": {}}}, r"pulumi-gitops:units\.units\.apps\.paths: is required with split: globs"),
        ({"split": "globs"}, r"pulumi-gitops:units\.units: lists no unit"),
    ],
)
def test_bad_settings_name_the_file_the_key_and_what_to_write(raw, message):
    with pytest.raises(UnitError, match=r"^Pulumi\.dev\.yaml: " + message):
        read_unit_settings(raw, SOURCE)


def test_settings_default_to_folders_and_sort_their_entries():
    settings = read_unit_settings({"units": {"b": None, "a": {"dependsOn": ["c", "b", "c"]}}}, SOURCE)

    assert settings.split == "folders"
    assert [(e.name, e.depends_on) for e in settings.entries] == [("a", ("b", "c")), ("b", ())]


def test_units_are_read_from_the_stack_file_and_absent_means_none(tmp_path):
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  pulumi-gitops:target: local\n  pulumi-gitops:units:\n    split: globs\n"
        "    units:\n      apps: {paths: ['apps/**']}\n"
    )
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  pulumi-gitops:target: aws\n")
    (tmp_path / "Pulumi.off.yaml").write_text("config:\n  pulumi-gitops:units: {}\n")  # Pulumi.yaml's default

    settings = read_units_from_stack_file(tmp_path, "acme/web/dev")

    assert settings is not None and settings.split == "globs" and settings.entries[0].paths == ("apps/**",)
    assert read_units_from_stack_file(tmp_path, "prod") is None
    assert read_units_from_stack_file(tmp_path, "off") is None
    assert read_units_from_stack_file(tmp_path, "missing") is None
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  pulumi-gitops:units: [apps]\n")
    with pytest.raises(UnitError, match=r"^Pulumi\.bad\.yaml: pulumi-gitops:units: must be a map"):
        read_units_from_stack_file(tmp_path, "bad")


def test_unit_stack_names_suffix_only_the_stack_segment():
    assert unit_stack_name("dev", "apps") == "dev.apps"
    assert unit_stack_name("acme/web/dev", "apps") == "acme/web/dev.apps"
    assert parent_stack_name("acme/web/dev.apps", "apps") == "acme/web/dev"
    with pytest.raises(UnitError, match=r"set pulumi-gitops:infraStack"):
        parent_stack_name("dev", "apps")


def test_one_object_in_two_units_is_an_error_naming_both_files(work_tree):
    with pytest.raises(UnitError, match=r"the object ConfigMap/same in namespace demo is in unit apps \(apps/a\.yaml\) "
                                        r"and in unit web \(web/b\.yaml\); keep it in one unit"):
        plan(work_tree, {"manifests/apps/a.yaml": work_tree.config_map("same"), "manifests/web/b.yaml": work_tree.config_map("same")},
             {}, default_namespace="demo")


def test_get_of_an_unknown_unit_lists_the_known_ones(work_tree):
    result = plan(work_tree, {"manifests/apps/a.yaml": work_tree.config_map("a")}, {})

    with pytest.raises(UnitError, match=r"there is no unit 'web' \(units: apps\)"):
        result.get("web")
    assert result.as_data() == [{"name": "apps", "files": ["apps/a.yaml"], "dependsOn": []}]
    assert result.commit == work_tree.repo.head.commit.hexsha
