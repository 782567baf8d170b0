"""The wording of schema refusals: each names the field, what YAML made of the value, what was expected and what to write."""

from __future__ import annotations

import pytest

from manifest_loader import ManifestError, load_manifests


def refusal(work_tree, files) -> str:
    for path, content in files.items():
        work_tree.write(path, content)
    work_tree.commit()
    with pytest.raises(ManifestError) as raised:
        load_manifests(work_tree.root, "manifests")
    return str(raised.value)


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      automountServiceAccountToken: {automount}
      containers: [{{name: web, image: nginx}}]
"""


def deployment(replicas="2", automount="false") -> dict[str, str]:
    return {"manifests/web.yaml": DEPLOYMENT.format(replicas=replicas, automount=automount)}


def test_a_yaml_boolean_where_a_number_is_expected_says_yes_and_no_are_booleans(work_tree):
    message = refusal(work_tree, deployment(replicas="yes"))

    assert "spec.replicas is a boolean, where a whole number is expected. Write the value itself; YAML reads yes/no/on/off as booleans." in message


def test_a_quoted_flag_is_refused_asking_for_true_or_false(work_tree):
    message = refusal(work_tree, deployment(automount='"no"'))

    assert "spec.template.spec.automountServiceAccountToken is a string, where true or false is expected" in message


def test_a_port_that_is_neither_a_number_nor_a_name_says_both_are_allowed(work_tree):
    service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80, targetPort: [8080]}]\n"
    message = refusal(work_tree, {"manifests/svc.yaml": service})

    assert "spec.ports[0].targetPort is a list, where" in message
    expected = message.split("spec.ports[0].targetPort is a list, where ", 1)[1].split(" is expected", 1)[0]
    assert set(expected.split(" or ")) == {"a whole number", "a string"}


RATIO_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: canaries.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Canary, plural: canaries, singular: canary, listKind: CanaryList}
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
              properties:
                weight: {type: number}
                mode: {type: string, enum: [fast, safe]}
"""


def test_a_word_where_a_decimal_number_is_expected(work_tree):
    message = canary_refusal(work_tree, "{weight: half}")

    assert "Canary/web: spec.weight is a string, where a number is expected. Write a number, without quotes." in message


def test_a_secret_value_of_the_wrong_type_is_asked_to_be_quoted_without_being_shown(work_tree):
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  pin: 4711\n"
    message = refusal(work_tree, {"manifests/secret.yaml": secret})

    assert "Secret/db: stringData.pin is a number, where a string is expected. Quote the value: YAML reads it as a boolean or number." in message
    assert "4711" not in message


def test_an_unknown_kind_points_at_the_kind_line(work_tree):
    content = "# a config map\napiVersion: v1\nmetadata: {name: a}\nkind: ConfigMop\n"
    message = refusal(work_tree, {"manifests/a.yaml": content})

    assert "manifests/a.yaml: document 0 (line 4): ConfigMop/a: Kubernetes" in message


def canary_refusal(work_tree, spec: str) -> str:
    canary = f"apiVersion: example.com/v1\nkind: Canary\nmetadata: {{name: web}}\nspec: {spec}\n"
    return refusal(work_tree, {"manifests/crd.yaml": RATIO_CRD, "manifests/canary.yaml": canary})


def test_an_empty_value_is_named_null(work_tree):
    assert "Canary/web: spec.weight is null, where a number is expected" in canary_refusal(work_tree, "{weight: ~}")


def test_a_value_outside_a_fields_choices_lists_them(work_tree):
    assert "Canary/web: spec.mode is not one of 'fast', 'safe'. Use one of them." in canary_refusal(work_tree, "{mode: rolling}")
