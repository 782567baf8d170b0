"""Object validation: required fields, keys, scope, namespace defaulting, duplicates."""

from __future__ import annotations

import pytest

from manifest_loader import ManifestError, ObjectKey, load_manifests


def load_files(work_tree, files, **options):
    for path, content in files.items():
        work_tree.write(path, content)
    work_tree.commit()
    return load_manifests(work_tree.root, "manifests", **options)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("kind: ConfigMap\nmetadata: {name: a}\n", r"ConfigMap/a: apiVersion is missing"),
        ("apiVersion: v1\nmetadata: {name: a}\n", r"\?/a: kind is missing"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {}}\n", r"ConfigMap: metadata.name is missing"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ''}\n", r"ConfigMap: metadata.name is missing or not a non-empty string"),
        ("apiVersion: v1\nkind: ConfigMap\n", r"ConfigMap: metadata is missing or not a mapping"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n", r"ConfigMap: metadata is missing or not a mapping"),
        ("apiVersion: 1\nkind: ConfigMap\nmetadata: {name: a}\n", r"ConfigMap/a: apiVersion is missing or not a non-empty string"),
        ("apiVersion: a/b/v1\nkind: ConfigMap\nmetadata: {name: a}\n", r"ConfigMap/a: apiVersion 'a/b/v1' is not <group>/<version>"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {version: 2}}\n", r"ConfigMap/a: metadata.labels.version is a number, not a string. Quote the value"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: [x]}\n", r"ConfigMap/a: metadata.annotations is a list, not a mapping"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: 7}\n", r"ConfigMap/a: metadata.namespace is not a non-empty string"),
    ],
)
def test_invalid_objects_name_file_document_and_problem(work_tree, content, problem):
    with pytest.raises(ManifestError, match=r"manifests/bad\.yaml: document 0 \(line \d\): " + problem):
        load_files(work_tree, {"manifests/bad.yaml": content})


def test_every_problem_of_every_file_is_reported_together(work_tree):
    files = {
        "manifests/a.yaml": "kind: ConfigMap\nmetadata: {}\n",
        "manifests/b.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n[1, 2]\n",
        "manifests/c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n",
    }

    with pytest.raises(ManifestError) as raised:
        load_files(work_tree, files)

    lines = str(raised.value).splitlines()
    assert lines[0] == "3 problems in the Kubernetes manifests:"
    assert lines[1].startswith("  manifests/a.yaml: document 0 (line 1): ConfigMap: apiVersion is missing")
    assert lines[2].startswith("  manifests/a.yaml: document 0 (line 2): ConfigMap: metadata.name is missing")
    assert lines[3].startswith("  manifests/b.yaml: document 1 (line 5): the document is a list, not a mapping")


def test_namespaced_objects_get_the_default_namespace(work_tree):
    files = {
        "manifests/app.yaml": work_tree.config_map("defaulted") + "---\n" + work_tree.config_map("explicit", namespace="team"),
    }

    loaded = load_files(work_tree, files, default_namespace="apps")

    defaulted, explicit = loaded.objects
    assert defaulted.body["metadata"]["namespace"] == "apps"
    assert defaulted.key == ObjectKey("", "ConfigMap", "apps", "defaulted")
    assert explicit.body["metadata"]["namespace"] == "team"
    assert explicit.key == ObjectKey("", "ConfigMap", "team", "explicit")


def test_cluster_scoped_kinds_get_no_namespace_and_keep_what_was_written(work_tree):
    content = """\
        apiVersion: v1
        kind: Namespace
        metadata: {name: team}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: {name: reader, namespace: ignored-by-the-api}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
    """

    namespace, cluster_role, deployment = load_files(work_tree, {"manifests/app.yaml": content}).objects

    assert "namespace" not in namespace.body["metadata"]
    assert namespace.key == ObjectKey("", "Namespace", "", "team")
    assert cluster_role.body["metadata"]["namespace"] == "ignored-by-the-api"
    assert cluster_role.key == ObjectKey("rbac.authorization.k8s.io", "ClusterRole", "", "reader")
    assert deployment.key == ObjectKey("apps", "Deployment", "default", "web")


def test_duplicates_across_files_name_both_files(work_tree):
    files = {
        "manifests/a.yaml": work_tree.config_map("settings"),
        "manifests/nested/b.yaml": work_tree.config_map("other") + "---\n" + work_tree.config_map("settings", namespace="default"),
    }

    with pytest.raises(
        ManifestError,
        match=r"manifests/nested/b\.yaml: document 1 \(line 8\): ConfigMap/settings: "
        r"manifests/a\.yaml document 0 \(line 1\) already defines this object \(core group, namespace default\)",
    ):
        load_files(work_tree, files)


def test_same_name_in_another_namespace_kind_or_group_is_not_a_duplicate(work_tree):
    files = {
        "manifests/a.yaml": work_tree.config_map("web") + "---\n" + work_tree.config_map("web", namespace="other"),
        "manifests/b.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
        "manifests/c.yaml": "apiVersion: example.com/v1\nkind: ConfigMap\nmetadata: {name: web}\n",
    }

    assert len(load_files(work_tree, files).objects) == 4


def test_invalid_default_namespace_is_refused(work_tree):
    with pytest.raises(ValueError, match=r"default_namespace 'Not_Valid'"):
        load_files(work_tree, {"manifests/a.yaml": work_tree.config_map("a")}, default_namespace="Not_Valid")
