"""A review stack's objects: all in its own namespace, which it creates; nothing cluster-scoped the base stack owns."""

from __future__ import annotations

import pytest

from manifest_loader import ManifestError, ObjectKey, load_manifests, render_objects
from manifest_loader.review_namespace import into_review_namespace

CLUSTER_ROLE = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n"


def loaded(work_tree, files):
    for path, content in files.items():
        work_tree.write(path, content)
    work_tree.commit()
    return load_manifests(work_tree.root, "manifests", default_namespace="demo")


def test_every_namespaced_object_moves_into_the_review_namespace_which_comes_first(work_tree):
    manifests = loaded(work_tree, {
        "manifests/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n",
        "manifests/a.yaml": work_tree.config_map("a"),
        "manifests/b.yaml": work_tree.config_map("b", namespace="elsewhere"),
        "manifests/role.yaml": CLUSTER_ROLE,
    })

    review = into_review_namespace(manifests, "web-pr-7")

    keys = [obj.key for obj in review.loaded.objects]
    assert keys == [ObjectKey("", "Namespace", "", "web-pr-7"), ObjectKey("", "ConfigMap", "web-pr-7", "a"),
                    ObjectKey("", "ConfigMap", "web-pr-7", "b")]
    rendered = render_objects(review.loaded.objects, images={})
    assert [body["metadata"].get("namespace") for body in rendered] == [None, "web-pr-7", "web-pr-7"]
    assert sorted(review.left_out) == ["ClusterRole/reader", "Namespace/demo"], \
        "the base stack's Namespace and cluster-scoped objects are never the review stack's"
    assert [obj.key.namespace for obj in manifests.objects if obj.key.kind == "ConfigMap"] == ["demo", "elsewhere"], \
        "the loaded objects themselves are left as they were"


def test_two_objects_only_their_namespaces_told_apart_are_refused_naming_both(work_tree):
    manifests = loaded(work_tree, {
        "manifests/a.yaml": work_tree.config_map("same"),
        "manifests/b.yaml": work_tree.config_map("same", namespace="other"),
    })

    with pytest.raises(ManifestError, match=r"manifests/b\.yaml.*manifests/a\.yaml document 0.*already defines"):
        into_review_namespace(manifests, "web-pr-7")
