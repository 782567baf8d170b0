"""ConfigMaps and Secrets in the deletion guard: their data changes in place (the provider's
enableConfigMapMutable/enableSecretMutable), except where Kubernetes forbids the change: an immutable
object's data, and a Secret's type, which the API server never lets change (reconciler/README.md,
"Deletion guard"; https://kubernetes.io/docs/concepts/configuration/secret/#secret-immutable)."""

from __future__ import annotations

from reconciler.guard import replacing_change

CONFIG_MAP = ("", "ConfigMap", "web", "settings")
SECRET = ("", "Secret", "web", "db")


def test_a_config_maps_new_data_is_an_update_in_place():
    assert replacing_change(CONFIG_MAP, {"data": {"a": "1"}}, {"data": {"a": "2"}}) is None


def test_an_immutable_config_maps_new_data_is_a_replacement():
    assert replacing_change(CONFIG_MAP, {"immutable": True, "data": {"a": "1"}}, {"immutable": True, "data": {"a": "2"}}) == "data"


def test_a_config_map_made_immutable_with_new_data_is_a_replacement():
    assert replacing_change(CONFIG_MAP, {"data": {"a": "1"}}, {"immutable": True, "data": {"a": "2"}}) == "data"


def test_an_immutable_config_maps_binary_data_counts_too():
    old = {"immutable": True, "binaryData": {"k": "AAE="}}
    assert replacing_change(CONFIG_MAP, old, {**old, "binaryData": {"k": "AAI="}}) == "binaryData"


def test_a_secrets_new_type_is_a_replacement_even_when_the_secret_is_mutable():
    old = {"type": "Opaque", "stringData": {"password": "x"}}

    assert replacing_change(SECRET, old, {**old, "type": "kubernetes.io/basic-auth"}) == "type"
    assert replacing_change(SECRET, old, {**old, "stringData": {"password": "y"}}) is None


def test_an_immutable_secrets_new_string_data_is_a_replacement():
    old = {"immutable": True, "type": "Opaque", "stringData": {"password": "x"}}

    assert replacing_change(SECRET, old, {**old, "stringData": {"password": "y"}}) == "stringData"
