"""The local target has no cloud to ask: a missing registry address or kubeconfig is a clear error, and
nothing is registered half-way."""

from __future__ import annotations

import pytest

from components.cluster import ClusterArgs
from components.registry import RegistryArgs


def test_a_local_registry_without_an_address_says_which_setting_to_give():
    with pytest.raises(ValueError) as refused:
        RegistryArgs(target="local", repository_name="demo").required_local_address()

    assert "local_address" in str(refused.value) and "'local'" in str(refused.value)


def test_a_local_registry_address_is_used_without_its_trailing_slashes():
    assert RegistryArgs(target="local", repository_name="demo", local_address="127.0.0.1:5050//").required_local_address() == "127.0.0.1:5050"


def test_a_local_cluster_without_a_kubeconfig_says_which_setting_to_give():
    with pytest.raises(ValueError) as refused:
        ClusterArgs(target="local").required_local_kubeconfig()

    assert "local_kubeconfig" in str(refused.value) and "'local'" in str(refused.value)


def test_a_local_cluster_deploys_with_the_kubeconfig_text_it_was_given():
    assert ClusterArgs(target="local", local_kubeconfig="apiVersion: v1\n").required_local_kubeconfig() == "apiVersion: v1\n"
