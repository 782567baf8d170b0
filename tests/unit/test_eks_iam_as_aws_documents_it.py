"""The EKS roles and OIDC provider as the AWS documentation spells them (values written here, not imported)."""

from __future__ import annotations

import json

import pytest

from components.cluster import Cluster, ClusterArgs
from testsupport.pulumi_mocks import run_program

# https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html and cluster-iam-role.html
NODE_ROLE_POLICIES = [
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
]
CLUSTER_ROLE_POLICIES = ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]
# The thumbprint of the root CA behind every EKS OIDC issuer (enable-iam-roles-for-service-accounts.html).
EKS_ROOT_CA_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


@pytest.fixture
def eks():
    def program():
        Cluster("cluster", ClusterArgs(target="aws", region="eu-west-1", availability_zones=["eu-west-1a", "eu-west-1b"]))

    return run_program(program, "dev", {}).mocks


def policies_of(mocks, role_name):
    return sorted(
        r.inputs["policyArn"] for r in mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == role_name
    )


@pytest.mark.parametrize("role, service, policies", [
    ("cluster-node-role", "ec2.amazonaws.com", NODE_ROLE_POLICIES),
    ("cluster-cluster-role", "eks.amazonaws.com", CLUSTER_ROLE_POLICIES),
])
def test_each_role_is_assumable_only_by_its_service_and_has_exactly_the_documented_policies(eks, role, service, policies):
    trust = {r.name: json.loads(r.inputs["assumeRolePolicy"]) for r in eks.of_type("aws:iam/role:Role")}[role]

    assert trust == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    assert policies_of(eks, role) == policies


def test_attachments_are_named_after_their_policy_so_no_two_collide(eks):
    names = sorted(r.name for r in eks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"))

    assert names == sorted(
        [f"cluster-node-role-{arn.split('/')[-1]}" for arn in NODE_ROLE_POLICIES]
        + [f"cluster-cluster-role-{arn.split('/')[-1]}" for arn in CLUSTER_ROLE_POLICIES]
    )


def test_the_oidc_provider_pins_the_eks_root_ca(eks):
    oidc = eks.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")

    assert oidc.inputs["thumbprintLists"] == [EKS_ROOT_CA_THUMBPRINT]



def test_kubernetes_secrets_are_envelope_encrypted_with_the_clusters_own_rotating_key(eks):
    cluster = eks.one("aws:eks/cluster:Cluster")
    key = eks.one("aws:kms/key:Key")

    assert cluster.inputs["encryptionConfig"] == {"provider": {"keyArn": f"arn:aws:test::{key.name}"}, "resources": ["secrets"]}
    assert key.inputs["enableKeyRotation"] is True


def test_the_control_plane_spans_the_private_and_public_subnets_and_nodes_only_the_private_ones(eks):
    subnets = {s.name: f"{s.name}-id" for s in eks.of_type("aws:ec2/subnet:Subnet")}
    private = sorted(v for k, v in subnets.items() if "-private-" in k)
    vpc_config = eks.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]

    assert sorted(vpc_config["subnetIds"]) == sorted(subnets.values()) and len(private) == 2
    assert sorted(eks.one("aws:eks/nodeGroup:NodeGroup").inputs["subnetIds"]) == private


def test_a_private_only_endpoint_lists_no_public_cidrs():
    def program():
        Cluster("cluster", ClusterArgs(target="aws", region="eu-west-1", availability_zones=["eu-west-1a"],
                                       endpoint_public_access=False, endpoint_private_access=True))

    vpc_config = run_program(program, "prod", {}).mocks.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]

    assert (vpc_config["endpointPublicAccess"], vpc_config["endpointPrivateAccess"]) == (False, True)
    assert "publicAccessCidrs" not in vpc_config
