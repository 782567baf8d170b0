"""`${secret:NAME}` in a Secret's data or stringData, filled from the stack's encrypted config when rendering."""

from __future__ import annotations

import base64

import pytest

from manifest_loader import ManifestError, load_manifests, render_objects

SECRET = """\
    apiVersion: v1
    kind: Secret
    metadata: {name: db}
    data:
      password: ${secret:db-password}
      plain: aGVsbG8=
    stringData:
      token: ${secret:API_TOKEN}
"""


def load_files(work_tree, files, secret_names=("db-password", "API_TOKEN")):
    for path, content in files.items():
        work_tree.write(path, content)
    work_tree.commit()
    return load_manifests(work_tree.root, "manifests", secret_names=secret_names)


def test_placeholders_take_the_secret_values_base64_in_data_and_as_is_in_string_data(work_tree):
    loaded = load_files(work_tree, {"manifests/db.yaml": SECRET})

    (secret,) = render_objects(loaded.objects, {}, secrets={"db-password": "s3cr3t pass", "API_TOKEN": "tok-123"})

    assert base64.b64decode(secret["data"]["password"]) == b"s3cr3t pass"
    assert secret["data"]["plain"] == "aGVsbG8="
    assert secret["stringData"] == {"token": "tok-123"}
    assert loaded.objects[0].body["data"]["password"] == "${secret:db-password}"


def test_an_unknown_secret_name_is_refused_at_load_naming_the_known_ones(work_tree):
    with pytest.raises(ManifestError) as raised:
        load_files(work_tree, {"manifests/db.yaml": SECRET}, secret_names=("API_TOKEN", "other"))

    assert (
        "manifests/db.yaml: document 0 (line 5): Secret/db: data.password asks for the secret 'db-password',"
        " which the stack's config does not hold. Set it with"
        " `pulumi config set --secret --path 'pulumi-gitops:secrets.db-password' VALUE` or fix the name (known: API_TOKEN, other)."
    ) in str(raised.value)


def test_render_refuses_a_secret_it_was_not_given(work_tree):
    loaded = load_files(work_tree, {"manifests/db.yaml": SECRET})

    with pytest.raises(ManifestError, match=r"Secret/db: no secret was given for placeholder \$\{secret:API_TOKEN\}"):
        render_objects(loaded.objects, {}, secrets={"db-password": "x"})


@pytest.mark.parametrize(
    "content",
    [
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {password: '${secret:db-password}'}\n",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  annotations: {x: '${secret:db-password}'}\n",
    ],
)
def test_a_secret_placeholder_outside_a_secret_s_data_is_refused(work_tree, content):
    with pytest.raises(ManifestError, match=r"holds a \$\{secret:\.\.\.\} placeholder outside a Secret's data or stringData"):
        load_files(work_tree, {"manifests/a.yaml": content})


def test_a_malformed_placeholder_in_a_secret_does_not_print_the_secret(work_tree):
    content = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  dsn: 'postgres://app:hunter2@db/${secret:db-password}'\n"

    with pytest.raises(ManifestError) as raised:
        load_files(work_tree, {"manifests/db.yaml": content})

    assert "(line 5): Secret/db: stringData.dsn mentions ${image:...} or ${secret:...} but is not exactly one placeholder" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_a_malformed_placeholder_elsewhere_shows_the_value_to_fix(work_tree):
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {image: 'repo/${image:app}'}\n"

    with pytest.raises(ManifestError, match=r"data\.image is 'repo/\$\{image:app\}', which mentions"):
        load_files(work_tree, {"manifests/a.yaml": content})
