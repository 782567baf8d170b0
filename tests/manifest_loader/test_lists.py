"""`kind: List` and the `<Kind>List` documents kubectl writes: expanded into their items, each checked and stamped."""

from __future__ import annotations

import pytest

from manifest_loader import SOURCE_ANNOTATION, ManifestError, load_manifests, render_objects

KUBECTL_LIST = """\
    apiVersion: v1
    kind: List
    metadata: {resourceVersion: ""}
    items:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: first}
        data: {a: "1"}
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: second, namespace: team}
        data: {b: "2"}
"""


def load_files(work_tree, files):
    for path, content in files.items():
        work_tree.write(path, content)
    work_tree.commit()
    return load_manifests(work_tree.root, "manifests", default_namespace="apps")


def test_a_list_is_deployed_as_its_items_each_stamped_with_its_place(work_tree):
    loaded = load_files(work_tree, {"manifests/export.yaml": KUBECTL_LIST})

    rendered = render_objects(loaded.objects, {})

    assert [(o.key.namespace, o.key.name) for o in loaded.objects] == [("apps", "first"), ("team", "second")]
    assert [o["metadata"]["annotations"][SOURCE_ANNOTATION] for o in rendered] == [
        "manifests/export.yaml#0.items[0]",
        "manifests/export.yaml#0.items[1]",
    ]


def test_a_kind_list_of_kubectl_is_expanded_too(work_tree):
    content = KUBECTL_LIST.replace("kind: List", "kind: ConfigMapList")

    assert len(load_files(work_tree, {"manifests/export.yaml": content}).objects) == 2


def test_an_item_s_problem_names_its_index_and_line(work_tree):
    content = KUBECTL_LIST.replace('data: {b: "2"}', "data: {b: 2}")

    with pytest.raises(ManifestError) as raised:
        load_files(work_tree, {"manifests/export.yaml": content})

    assert "manifests/export.yaml: document 0 (line 12): items[1]: ConfigMap/second: data.b is a number" in str(raised.value)


def test_an_item_that_is_not_an_object_is_refused_with_its_index(work_tree):
    content = "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: a}\n  - just text\n"

    with pytest.raises(ManifestError, match=r"document 0 \(line 7\): items\[1\]: the document is a string, not a mapping"):
        load_files(work_tree, {"manifests/export.yaml": content})


def test_items_that_are_not_a_list_are_refused(work_tree):
    with pytest.raises(ManifestError, match=r"\(line 3\): items of this List is a mapping, not a list"):
        load_files(work_tree, {"manifests/export.yaml": "apiVersion: v1\nkind: List\nitems: {a: b}\n"})


def test_an_item_that_repeats_another_document_is_a_duplicate(work_tree):
    files = {"manifests/export.yaml": KUBECTL_LIST, "manifests/more.yaml": work_tree.config_map("first", namespace="apps")}

    with pytest.raises(ManifestError, match=r"manifests/more\.yaml: .*manifests/export\.yaml document 0 items\[0\] \(line 1\) already defines"):
        load_files(work_tree, files)
