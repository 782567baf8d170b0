"""Every object against its kind's schema for the target Kubernetes version, or its CRD in the same commit."""

from __future__ import annotations

import pytest

from manifest_loader import ManifestError, load_manifests


def load_files(work_tree, files, **options):
    for path, content in files.items():
        work_tree.write(path, content)
    work_tree.commit()
    return load_manifests(work_tree.root, "manifests", **options)


def refusal(work_tree, files, **options) -> str:
    with pytest.raises(ManifestError) as raised:
        load_files(work_tree, files, **options)
    return str(raised.value)


def deployment(container: str) -> str:
    return f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web}}
        spec:
          selector: {{matchLabels: {{app: web}}}}
          template:
            metadata: {{labels: {{app: web}}}}
            spec:
              containers:
{container}
    """


def test_yaml_boolean_where_a_string_is_expected_says_to_quote_it(work_tree):
    container = "                - name: web\n                  image: nginx\n                  env:\n                    - {name: VERBOSE, value: yes}"
    message = refusal(work_tree, {"manifests/web.yaml": deployment(container)})

    assert (
        "manifests/web.yaml: document 0 (line 13): Deployment/web: spec.template.spec.containers[0].env[0].value"
        ' is a boolean, where a string is expected. YAML reads yes as a boolean: quote it: "yes".'
    ) in message


def test_yaml_number_that_loses_its_text_says_to_quote_it(work_tree):
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: versions}\ndata:\n  api: v2\n  version: 1.10\n"
    message = refusal(work_tree, {"manifests/cm.yaml": content})

    assert 'document 0 (line 6): ConfigMap/versions: data.version is a number' in message
    assert 'YAML reads 1.10 as the number 1.1: quote it: "1.10".' in message


def test_a_string_where_a_number_is_expected(work_tree):
    container = '                - {name: web, image: nginx, ports: [{containerPort: "eighty"}]}'
    message = refusal(work_tree, {"manifests/web.yaml": deployment(container)})

    assert "(line 10): Deployment/web: spec.template.spec.containers[0].ports[0].containerPort is a string" in message
    assert "Write a number, without quotes." in message


def test_a_misspelt_field_is_named_with_the_likely_one(work_tree):
    container = "                - {name: web, image: nginx, imagePullPolcy: Always}"
    message = refusal(work_tree, {"manifests/web.yaml": deployment(container)})

    assert "spec.template.spec.containers[0].imagePullPolcy is not a field of Deployment here. Did you mean 'imagePullPolicy'?" in message


def test_a_missing_required_field_is_named(work_tree):
    content = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n"
    message = refusal(work_tree, {"manifests/web.yaml": content})

    assert message.endswith("manifests/web.yaml: document 0 (line 4): Deployment/web: spec lacks the required fields selector, template. Add it.")
    assert message.startswith("1 problem ")


def test_a_removed_api_version_names_the_served_ones(work_tree):
    content = deployment("                - {name: web, image: nginx}").replace("apps/v1", "extensions/v1beta1")
    message = refusal(work_tree, {"manifests/web.yaml": content})

    assert "apiVersion extensions/v1beta1 of Deployment is not served by Kubernetes 1.34. Use one of: apps/v1." in message


def test_an_unknown_kind_of_a_builtin_group_is_refused(work_tree):
    content = "apiVersion: v1\nkind: ConfigMop\nmetadata: {name: a}\n"
    message = refusal(work_tree, {"manifests/a.yaml": content})

    assert "ConfigMop/a: Kubernetes 1.34 has no kind ConfigMop in API group core (v1)" in message


VALIDATING_POLICY = """\
    apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingAdmissionPolicy
    metadata: {name: replicas}
    spec:
      matchConstraints: {resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]}
      validations: [{expression: "object.spec.replicas <= 5"}]
"""


def test_the_target_version_decides_which_kinds_exist(work_tree):
    assert len(load_files(work_tree, {"manifests/policy.yaml": VALIDATING_POLICY}, kubernetes_version="1.34").objects) == 1
    message = str(pytest.raises(ManifestError, load_manifests, work_tree.root, "manifests", kubernetes_version="1.25").value)

    assert "Kubernetes 1.25 has no kind ValidatingAdmissionPolicy in API group admissionregistration.k8s.io" in message


def test_a_version_without_schemas_is_refused_naming_the_ones_there_are(work_tree):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.commit()

    with pytest.raises(ValueError, match=r"no schemas for Kubernetes 1\.12; it has 1\.25, .*1\.34"):
        load_manifests(work_tree.root, "manifests", kubernetes_version="1.12")


CRD = """\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: backups.example.com}
    spec:
      group: example.com
      scope: Namespaced
      names: {kind: Backup, plural: backups, singular: backup, listKind: BackupList}
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  required: [schedule]
                  properties:
                    schedule: {type: string}
                    keep: {type: integer, nullable: true}
                    port: {x-kubernetes-int-or-string: true}
"""


def test_custom_resources_are_checked_against_the_crd_of_the_same_commit(work_tree):
    good = "apiVersion: example.com/v1\nkind: Backup\nmetadata: {name: nightly}\nspec: {schedule: '@daily', keep: null, port: http}\n"
    bad = "apiVersion: example.com/v1\nkind: Backup\nmetadata: {name: hourly}\nspec:\n  keep: seven\n"
    message = refusal(work_tree, {"manifests/crd.yaml": CRD, "manifests/good.yaml": good, "manifests/bad.yaml": bad})

    assert "manifests/bad.yaml: document 0 (line 5): Backup/hourly: spec.keep is a string, where a whole number is expected" in message
    assert "manifests/bad.yaml: document 0 (line 4): Backup/hourly: spec lacks the required field schedule" in message
    assert "good.yaml" not in message


def test_a_custom_resource_version_the_crd_does_not_serve_is_refused(work_tree):
    old = "apiVersion: example.com/v1alpha1\nkind: Backup\nmetadata: {name: nightly}\nspec: {schedule: '@daily'}\n"
    message = refusal(work_tree, {"manifests/crd.yaml": CRD, "manifests/old.yaml": old})

    assert "apiVersion example.com/v1alpha1 of Backup is not served by the CustomResourceDefinition in this commit. Use one of: example.com/v1." in message


def test_custom_resources_whose_crd_is_in_the_cluster_are_left_to_the_api_server(work_tree):
    content = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web}\nspec: {anything: [1, 2]}\n"

    assert len(load_files(work_tree, {"manifests/cert.yaml": content}).objects) == 1


def test_a_secret_s_data_never_appears_in_schema_errors(work_tree):
    content = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  password: 918273645\nstringData:\n  token: yes\n"
    message = refusal(work_tree, {"manifests/secret.yaml": content})

    assert "Secret/db: data.password is a number, where a string is expected" in message
    assert "Secret/db: stringData.token is a boolean" in message
    assert "918273645" not in message and "yes" not in message.lower().replace("yaml reads it", "")


def test_every_problem_of_the_commit_is_reported_before_anything_is_applied(work_tree):
    files = {
        "manifests/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {enabled: true}\n",
        "manifests/b.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: '80'}]}\n",
        "manifests/c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n",
    }
    lines = refusal(work_tree, files).splitlines()

    assert lines[0] == "2 problems in the Kubernetes manifests:"
    assert lines[1].startswith("  manifests/a.yaml: document 0 (line 4): ConfigMap/a: data.enabled is a boolean")
    assert lines[2].startswith("  manifests/b.yaml: document 0 (line 4): Service/b: spec.ports[0].port is a string")


def test_objects_before_a_broken_document_are_still_checked_and_located(work_tree):
    content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {enabled: yes}\n---\n" + "[" * 200 + "]" * 200 + "\n"
    message = refusal(work_tree, {"manifests/a.yaml": content})

    assert "manifests/a.yaml: document 0 (line 4): ConfigMap/a: data.enabled is a boolean" in message
    assert "manifests/a.yaml: document 1 (line 6): nesting is deeper than 100 levels" in message
