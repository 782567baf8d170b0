"""render_objects: image placeholders, provenance stamping, and no change to the loaded objects."""

from __future__ import annotations

import copy
import re

import pytest

from manifest_loader import (
    COMMIT_LABEL,
    MANAGED_BY_LABEL,
    MANAGER_NAME,
    SOURCE_ANNOTATION,
    ManifestError,
    load_manifests,
    render_objects,
)

APP_IMAGE = "127.0.0.1:5050/demo/app@sha256:" + "a" * 64
# Kubernetes label values: at most 63 characters, alphanumeric at both ends.
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

DEPLOYMENT = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web}
    spec:
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          initContainers:
            - {name: migrate, image: "${image:app}"}
          containers:
            - {name: web, image: "${image:app}"}
            - {name: proxy, image: "${image:proxy-v2}"}
"""


def load(work_tree, files):
    for path, content in files.items():
        work_tree.write(path, content)
    work_tree.commit()
    return load_manifests(work_tree.root, "manifests")


def test_placeholders_are_replaced_everywhere(work_tree):
    loaded = load(work_tree, {"manifests/web.yaml": DEPLOYMENT})

    (rendered,) = render_objects(
        loaded.objects, {"app": APP_IMAGE, "proxy-v2": "proxy@sha256:" + "b" * 64}
    )

    pod = rendered["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["image"] == APP_IMAGE
    assert [container["image"] for container in pod["containers"]] == [APP_IMAGE, "proxy@sha256:" + "b" * 64]


def test_unknown_placeholder_names_file_document_and_object(work_tree):
    loaded = load(work_tree, {"manifests/web.yaml": DEPLOYMENT})

    with pytest.raises(
        ManifestError,
        match=r"manifests/web\.yaml: document 0 \(line 1\): Deployment/web: no image was given for placeholder "
        r"\$\{image:proxy-v2\}\. Pass images\['proxy-v2'\] or fix the name \(given: app\)",
    ):
        render_objects(loaded.objects, {"app": APP_IMAGE})


@pytest.mark.parametrize("value", ["${image:App}", "${image:-app}", "${image:app", "registry/${image:app}", "${image:}"])
def test_malformed_placeholders_are_refused_at_load_time(work_tree, value):
    content = f'apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n    - {{name: c, image: "{value}"}}\n'

    with pytest.raises(
        ManifestError,
        match=r"manifests/pod\.yaml: document 0 \(line 6\): Pod/p: spec\.containers\[0\]\.image is .* not exactly one placeholder",
    ):
        load(work_tree, {"manifests/pod.yaml": content})


def test_every_object_is_stamped_with_manager_commit_and_source(work_tree):
    content = work_tree.config_map("first") + "---\n" + "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n  labels: {owner: me}\n"
    loaded = load(work_tree, {"manifests/nested/app.yaml": content})

    first, namespace = render_objects(loaded.objects, {})

    assert first["metadata"]["labels"] == {MANAGED_BY_LABEL: MANAGER_NAME, COMMIT_LABEL: loaded.commit}
    assert first["metadata"]["annotations"] == {SOURCE_ANNOTATION: "manifests/nested/app.yaml#0", "pulumi.com/patchForce": "true"}
    assert namespace["metadata"]["labels"] == {"owner": "me", MANAGED_BY_LABEL: MANAGER_NAME, COMMIT_LABEL: loaded.commit}
    assert namespace["metadata"]["annotations"] == {SOURCE_ANNOTATION: "manifests/nested/app.yaml#1", "pulumi.com/patchForce": "true"}


def test_label_key_names_are_the_published_ones():
    assert (MANAGED_BY_LABEL, COMMIT_LABEL, SOURCE_ANNOTATION, MANAGER_NAME) == (
        "app.kubernetes.io/managed-by",
        "pulumi-gitops.dev/commit",
        "pulumi-gitops.dev/source",
        "pulumi-gitops",
    )


def test_commit_label_is_a_valid_label_value(work_tree):
    loaded = load(work_tree, {"manifests/a.yaml": work_tree.config_map("a")})

    (rendered,) = render_objects(loaded.objects, {})

    value = rendered["metadata"]["labels"][COMMIT_LABEL]
    assert value == loaded.commit
    assert len(value) <= 63 and LABEL_VALUE.fullmatch(value)


def test_each_object_carries_the_last_commit_of_its_own_file(work_tree):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.write("manifests/b.yaml", work_tree.config_map("b"))
    first = work_tree.commit("a and b")
    work_tree.write("manifests/b.yaml", work_tree.config_map("b", value="changed"))
    second = work_tree.commit("only b")
    work_tree.write("README.md", "not a manifest")
    head = work_tree.commit("docs")

    loaded = load_manifests(work_tree.root, "manifests")
    labels = {o["metadata"]["name"]: o["metadata"]["labels"][COMMIT_LABEL] for o in render_objects(loaded.objects, {})}

    assert labels == {"a": first, "b": second}
    assert loaded.commit == head not in labels.values()


def test_uncommitted_edits_never_reach_the_commit_label(work_tree):
    loaded_before = load(work_tree, {"manifests/a.yaml": work_tree.config_map("a")})
    work_tree.write("manifests/a.yaml", work_tree.config_map("a", value="edited"))

    loaded = load_manifests(work_tree.root, "manifests")
    (rendered,) = render_objects(loaded.objects, {})

    assert loaded.dirty is True
    assert rendered["metadata"]["labels"][COMMIT_LABEL] == loaded_before.commit
    assert rendered["data"] == {"key": "x"}


def test_pod_templates_are_not_stamped(work_tree):
    loaded = load(work_tree, {"manifests/web.yaml": DEPLOYMENT})

    (rendered,) = render_objects(loaded.objects, {"app": "a", "proxy-v2": "p"})

    assert rendered["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}
    assert rendered["spec"]["selector"] == {"matchLabels": {"app": "web"}}


def test_stamping_one_place_does_not_leak_through_yaml_aliases(work_tree):
    content = """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels: &labels {app: web}
        spec:
          selector: {matchLabels: *labels}
          template:
            metadata: {labels: *labels}
            spec: {containers: [{name: web, image: nginx}]}
    """
    loaded = load(work_tree, {"manifests/web.yaml": content})

    (rendered,) = render_objects(loaded.objects, {})

    assert rendered["spec"]["selector"]["matchLabels"] == {"app": "web"}


def test_loaded_objects_are_not_mutated_and_each_render_is_fresh(work_tree):
    loaded = load(work_tree, {"manifests/web.yaml": DEPLOYMENT})
    before = copy.deepcopy([obj.body for obj in loaded.objects])
    images = {"app": "a", "proxy-v2": "p"}

    first = render_objects(loaded.objects, images)
    second = render_objects(loaded.objects, images)

    assert [obj.body for obj in loaded.objects] == before
    assert first[0]["metadata"]["labels"][COMMIT_LABEL] == loaded.commit
    assert first[0]["metadata"] is not second[0]["metadata"]


def test_an_object_that_keeps_hand_edits_says_so_and_is_not_overridden(work_tree):
    content = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tuned-by-hand\n"
               "  annotations: {pulumi.com/patchForce: \"false\"}\ndata:\n  LEVEL: info\n")
    loaded = load(work_tree, {"manifests/app.yaml": content})

    [config_map] = render_objects(loaded.objects, {})

    assert config_map["metadata"]["annotations"]["pulumi.com/patchForce"] == "false"
