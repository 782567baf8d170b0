"""How files become documents: safe YAML only, bounded in size, depth and alias expansion."""

from __future__ import annotations

import time

import pytest

from manifest_loader import ManifestError, load_manifests

BILLION_LAUGHS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: lol}
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def load_single(work_tree, content, **options):
    work_tree.write("manifests/app.yaml", content)
    work_tree.commit()
    return load_manifests(work_tree.root, "manifests", **options)


def test_multi_document_file_keeps_index_and_start_line(work_tree):
    content = work_tree.config_map("first") + "---\n" + work_tree.config_map("second")

    loaded = load_single(work_tree, content)

    assert [(obj.key.name, obj.doc_index, obj.line) for obj in loaded.objects] == [("first", 0, 1), ("second", 1, 8)]


def test_empty_documents_are_skipped_but_counted(work_tree):
    content = "---\n# only a comment\n---\n" + work_tree.config_map("real") + "---\n"

    loaded = load_single(work_tree, content)

    assert [(obj.key.name, obj.doc_index, obj.line) for obj in loaded.objects] == [("real", 1, 4)]


def test_non_mapping_document_is_refused(work_tree):
    content = work_tree.config_map("ok") + "---\n- just\n- a list\n"

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: document 1 \(line 8\): the document is a list, not a mapping"):
        load_single(work_tree, content)


def test_invalid_yaml_names_file_and_line(work_tree):
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n"

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: document 0 \(line 5\): invalid YAML: .*Fix the syntax"):
        load_single(work_tree, content)


def test_billion_laughs_is_refused_quickly(work_tree):
    start = time.perf_counter()
    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: document 0 \(line 9\): aliases expand to more than 10000 values"):
        load_single(work_tree, BILLION_LAUGHS)
    assert time.perf_counter() - start < 0.5


def test_modest_aliases_are_expanded_into_independent_copies(work_tree):
    content = """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels: &labels {app: web}
        spec:
          selector:
            matchLabels: *labels
          template:
            metadata: {labels: *labels}
            spec: {containers: [{name: web, image: nginx}]}
    """

    body = load_single(work_tree, content).objects[0].body

    assert body["spec"]["selector"]["matchLabels"] == {"app": "web"}
    assert body["spec"]["selector"]["matchLabels"] is not body["metadata"]["labels"]


def test_merge_keys_are_supported(work_tree):
    content = """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: merged
          annotations: &defaults {level: info, retries: "3"}
        data:
          <<: *defaults
          level: debug
    """

    body = load_single(work_tree, content).objects[0].body

    assert body["data"] == {"level": "debug", "retries": "3"}


def test_recursive_alias_is_refused(work_tree):
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata: &loop [*loop]\n"

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: document 0 \(line 4\): alias \*loop refers to a collection that contains it"):
        load_single(work_tree, content)


def test_excessive_nesting_is_refused_without_crashing(work_tree):
    # Deep enough to overflow the C stack of libyaml's own composer.
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + "[" * 200_000 + "]" * 200_000 + "\n"

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: document 0 \(line 4\): nesting is deeper than 100 levels"):
        load_single(work_tree, content)


def test_oversized_file_is_refused_before_parsing(work_tree):
    content = work_tree.config_map("big", value="x" * 2_000)

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: the file is \d+ bytes, over the limit of 1000"):
        load_single(work_tree, content, max_file_bytes=1_000)


def test_non_utf8_bytes_are_refused(work_tree):
    content = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n"

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: line 4: byte \d+ is not valid UTF-8"):
        load_single(work_tree, content)


def test_python_object_tags_are_refused_and_never_constructed(work_tree):
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil}\ndata: !!python/object/apply:os.system ['touch pwned']\n"

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: document 0 \(line 4\): tag !!python/object/apply:os\.system is not allowed"):
        load_single(work_tree, content)
    assert not (work_tree.root / "pwned").exists()


@pytest.mark.parametrize("value", ["!Ref other", "!!binary aGVsbG8=", "!!timestamp 2024-01-01", "!!set {a, b}"])
def test_tags_beyond_plain_data_are_refused(work_tree, value):
    content = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: tagged}}\ndata:\n  key: {value}\n"

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: document 0 \(line 5\): tag \S+ is not allowed"):
        load_single(work_tree, content)


def test_unquoted_dates_stay_strings_as_kubectl_sends_them(work_tree):
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dated}\ndata:\n  since: 2024-01-31\n"

    assert load_single(work_tree, content).objects[0].body["data"] == {"since": "2024-01-31"}


def test_duplicate_mapping_keys_are_refused(work_tree):
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: twice}\ndata:\n  key: a\n  key: b\n"

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: document 0 \(line 6\): key 'key' appears twice"):
        load_single(work_tree, content)


def test_non_string_mapping_keys_are_refused(work_tree):
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keys}\ndata:\n  8080: http\n"

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: document 0 \(line 5\): mapping key 8080 is not a string. Quote the key"):
        load_single(work_tree, content)


def test_problem_in_one_file_does_not_hide_problems_in_others(work_tree):
    work_tree.write("manifests/a.yaml", "key: [unclosed\n")
    work_tree.write("manifests/b.yaml", "- a list\n")
    work_tree.commit()

    with pytest.raises(ManifestError) as raised:
        load_manifests(work_tree.root, "manifests")

    assert [problem.path for problem in raised.value.problems] == ["manifests/a.yaml", "manifests/b.yaml"]
    assert str(raised.value).startswith("2 problems in the Kubernetes manifests:\n")


def test_control_characters_are_refused_with_their_line(work_tree):
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: café}\ndata: {key: \"bell\x07\"}\n"

    with pytest.raises(ManifestError, match=r"manifests/app\.yaml: document 0 \(line 4\): invalid YAML: character U\+0007 is not allowed"):
        load_single(work_tree, content)
