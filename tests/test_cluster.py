import json

import pulumi
import pytest
import yaml

from components.cluster import CLUSTER_POLICIES, NODE_POLICIES, Cluster, ClusterArgs
from testsupport.kubeconfigs import LOCAL_KUBECONFIG
from testsupport.pulumi_mocks import is_secret_input, reveal, run_program

AWS_ARGS = dict(
    target="aws",
    name_prefix="demo",
    region="us-east-1",
    availability_zones=["us-east-1a", "us-east-1b"],
    log_types=["api", "audit", "authenticator"],
    endpoint_public_access=False,
    endpoint_private_access=True,
    node_instance_types=["m6i.large"],
    node_min_size=2,
    node_desired_size=3,
    node_max_size=5,
)


def eks_program(seen: dict, **overrides):
    def program():
        cluster = Cluster("cluster", ClusterArgs(**{**AWS_ARGS, **overrides}))
        return pulumi.Output.all(
            cluster.kubeconfig, pulumi.Output.from_input(cluster.kubeconfig.is_secret()), cluster.endpoint
        ).apply(lambda values: seen.update(kubeconfig=values[0], secret=values[1], endpoint=values[2]))

    return program


@pytest.fixture(scope="module")
def eks():
    seen = {}
    return run_program(eks_program(seen), "prod", {}).mocks, seen


def attached_policies(mocks, role_name):
    return sorted(
        r.inputs["policyArn"] for r in mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == role_name
    )


def test_node_role_has_exactly_the_standard_node_policies(eks):
    mocks, _ = eks
    roles = {r.name: json.loads(r.inputs["assumeRolePolicy"]) for r in mocks.of_type("aws:iam/role:Role")}

    assert attached_policies(mocks, "cluster-node-role") == sorted(NODE_POLICIES)
    assert attached_policies(mocks, "cluster-cluster-role") == sorted(CLUSTER_POLICIES)
    assert roles["cluster-node-role"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert roles["cluster-cluster-role"]["Statement"][0]["Principal"] == {"Service": "eks.amazonaws.com"}


def test_nodes_run_in_the_private_subnets_only(eks):
    mocks, _ = eks
    subnets = {r.name: r for r in mocks.of_type("aws:ec2/subnet:Subnet")}
    private_ids = sorted(f"{name}-id" for name in subnets if "-private-" in name)
    nodes = mocks.one("aws:eks/nodeGroup:NodeGroup")

    assert len(private_ids) == 2
    assert sorted(nodes.inputs["subnetIds"]) == private_ids
    assert nodes.inputs["instanceTypes"] == ["m6i.large"]
    assert nodes.inputs["scalingConfig"] == {"minSize": 2, "desiredSize": 3, "maxSize": 5}
    assert all("mapPublicIpOnLaunch" not in subnets[name].inputs for name in subnets if "-private-" in name)


def test_cluster_logs_endpoint_access_and_kms_encrypted_secrets(eks):
    mocks, _ = eks
    cluster = mocks.one("aws:eks/cluster:Cluster")
    key = mocks.one("aws:kms/key:Key")

    assert cluster.inputs["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert cluster.inputs["encryptionConfig"] == {"provider": {"keyArn": f"arn:aws:test::{key.name}"}, "resources": ["secrets"]}
    assert key.inputs["enableKeyRotation"] is True
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is False
    assert cluster.inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert "publicAccessCidrs" not in cluster.inputs["vpcConfig"]
    assert cluster.inputs["name"] == "demo-prod"


def test_public_endpoint_is_limited_to_the_configured_cidrs():
    mocks = run_program(eks_program({}, endpoint_public_access=True, public_access_cidrs=["203.0.113.0/24"]), "dev", {}).mocks
    vpc_config = mocks.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc_config["endpointPublicAccess"] is True
    assert vpc_config["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_oidc_provider_trusts_the_cluster_issuer_for_sts(eks):
    mocks, _ = eks
    oidc = mocks.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["url"] == "https://oidc.eks.example/id/cluster-eks"
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]


def test_kubeconfig_is_secret_and_reaches_the_cluster_endpoint(eks):
    mocks, seen = eks
    kubeconfig = json.loads(seen["kubeconfig"])
    provider = mocks.one("pulumi:providers:kubernetes")

    assert seen["secret"] is True
    assert kubeconfig["clusters"][0]["cluster"]["server"] == seen["endpoint"] == "https://cluster-eks.eks.example"
    assert kubeconfig["users"][0]["user"]["exec"]["args"][-1] == "us-east-1"
    assert is_secret_input(provider.inputs["kubeconfig"])
    assert json.loads(reveal(provider.inputs["kubeconfig"])) == kubeconfig


def test_local_cluster_is_a_provider_on_the_given_kubeconfig_with_no_aws_resources():
    seen = {}

    def program():
        cluster = Cluster(
            "cluster",
            ClusterArgs(
                target="local",
                local_kubeconfig=LOCAL_KUBECONFIG,
                local_context="gitops-local",
                local_server="https://127.0.0.1:16443",
            ),
        )
        return pulumi.Output.all(cluster.endpoint, pulumi.Output.from_input(cluster.kubeconfig.is_secret())).apply(
            lambda values: seen.update(endpoint=values[0], secret=values[1])
        )

    mocks = run_program(program, "local", {}).mocks
    provider = mocks.one("pulumi:providers:kubernetes")

    assert sorted(r.typ for r in mocks.registered) == ["pulumi-gitops:cluster:Cluster", "pulumi:providers:kubernetes"]
    assert yaml.safe_load(reveal(provider.inputs["kubeconfig"])) == yaml.safe_load(LOCAL_KUBECONFIG)
    assert provider.inputs["context"] == "gitops-local"
    assert seen == {"endpoint": "https://127.0.0.1:16443", "secret": True}


def test_the_provider_client_allows_the_request_rate_a_thousand_objects_need(eks):
    mocks, _ = eks
    provider = mocks.one("pulumi:providers:kubernetes")

    assert json.loads(provider.inputs["kubeClientSettings"]) == {"qps": 200, "burst": 400}
