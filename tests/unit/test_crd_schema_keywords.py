"""A CRD's openAPIV3Schema as the API server reads it: OpenAPI's `x-kubernetes-int-or-string` and `nullable`
change what is valid; unserved versions validate nothing
(https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/)."""

from __future__ import annotations

import pytest

from manifest_loader.crd_schemas import crd_validators
from manifest_loader.model import ManifestObject, ObjectKey


def crd(versions: list[dict], group: str = "example.com") -> ManifestObject:
    body = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"backups.{group}"},
        "spec": {"group": group, "names": {"kind": "Backup", "plural": "backups"}, "scope": "Namespaced", "versions": versions},
    }
    return ManifestObject("manifests/crd.yaml", 0, 1, body, ObjectKey("apiextensions.k8s.io", "CustomResourceDefinition", "", f"backups.{group}"), "c" * 40)


SPEC_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "keep": {"type": "integer", "nullable": True},
                "schedule": {"type": "string", "format": "cron"},
                "retries": {"type": "integer"},
            },
        }
    },
}


@pytest.fixture
def validator():
    validators = crd_validators([crd([{"name": "v1", "served": True, "schema": {"openAPIV3Schema": SPEC_SCHEMA}}])])
    return validators[("example.com", "Backup")]["v1"]


def valid(validator, spec: dict) -> bool:
    return validator.is_valid({"apiVersion": "example.com/v1", "kind": "Backup", "metadata": {"name": "b"}, "spec": spec})


@pytest.mark.parametrize("port, ok", [(8080, True), ("http", True), (True, False), (1.5, False), ([80], False)])
def test_an_int_or_string_field_takes_a_whole_number_or_a_string_only(validator, port, ok):
    assert valid(validator, {"port": port}) is ok


def test_a_nullable_field_takes_null_and_one_that_is_not_does_not(validator):
    assert valid(validator, {"keep": None}) is True
    assert valid(validator, {"retries": None}) is False
    assert valid(validator, {"keep": "seven"}) is False


def test_an_openapi_format_is_left_to_the_api_server(validator):
    assert valid(validator, {"schedule": "every night"}) is True


def test_only_served_versions_of_a_crd_with_a_group_and_kind_give_validators():
    versions = [
        {"name": "v1", "schema": {"openAPIV3Schema": SPEC_SCHEMA}},  # served unless it says otherwise
        {"name": "v1beta1", "served": False, "schema": {"openAPIV3Schema": SPEC_SCHEMA}},
        {"name": "v0", "served": True},  # served, without a schema: nothing to check it against
    ]
    nameless = crd(versions, group="other.example.com")
    del nameless.body["spec"]["names"]

    validators = crd_validators([crd(versions), nameless])

    assert set(validators) == {("example.com", "Backup")}
    assert set(validators[("example.com", "Backup")]) == {"v1", "v0"}
    assert validators[("example.com", "Backup")]["v0"] is None
