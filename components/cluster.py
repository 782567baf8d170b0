"""The Kubernetes cluster and a provider for it: EKS with its network, roles and nodes, or a local API."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.kubeconfig import eks_kubeconfig
from components.kubernetes_provider import kubernetes_provider
from components.network import Network, NetworkArgs

# Exactly the managed policies AWS documents for EKS worker nodes.
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)
CLUSTER_POLICIES = ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",)
# EKS validates the issuer with its own trust store; IAM still requires a
# thumbprint, and this is the one of the root CA that signs every EKS issuer.
EKS_OIDC_ROOT_CA_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


@dataclass
class ClusterArgs:
    target: str
    # aws
    name_prefix: str = "demo"
    region: Optional[str] = None
    availability_zones: list[str] = field(default_factory=list)
    vpc_cidr: str = "10.0.0.0/16"
    single_nat_gateway: bool = True
    kubernetes_version: str = "1.33"
    log_types: list[str] = field(default_factory=list)
    endpoint_public_access: bool = True
    endpoint_private_access: bool = True
    public_access_cidrs: list[str] = field(default_factory=lambda: ["0.0.0.0/0"])
    node_instance_types: list[str] = field(default_factory=lambda: ["t3.medium"])
    node_min_size: int = 1
    node_desired_size: int = 2
    node_max_size: int = 3
    node_disk_size_gb: int = 20
    # local
    local_kubeconfig: Optional[str] = None
    local_context: Optional[str] = None
    local_server: Optional[str] = None

    def required_local_kubeconfig(self) -> str:
        """The kubeconfig text the local target deploys with; it has no other way to reach its cluster."""
        if self.local_kubeconfig is None:
            raise ValueError("ClusterArgs: target 'local' needs local_kubeconfig, the kubeconfig's text")
        return self.local_kubeconfig


def _assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def _oidc_issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity]) -> str:
    oidcs = identities[0].oidcs
    issuer = oidcs[0].issuer if oidcs else None
    if issuer is None:
        raise ValueError("EKS reported no OIDC issuer for the cluster, which every EKS cluster has")
    return issuer


class Cluster(pulumi.ComponentResource):
    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: ClusterArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("pulumi-gitops:cluster:Cluster", name, None, opts)
        if args.target == "aws":
            self._eks(name, args)
        else:
            self._local(name, args)
        self.provider = kubernetes_provider(
            f"{name}-k8s",
            self.kubeconfig,
            args.local_context if args.target == "local" else None,
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.name, "endpoint": self.endpoint, "kubeconfig": self.kubeconfig})

    def _role(self, name: str, service: str, policies: tuple[str, ...]) -> tuple[aws.iam.Role, list]:
        role = aws.iam.Role(
            name, assume_role_policy=_assume_role_policy(service), opts=pulumi.ResourceOptions(parent=self)
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-{arn.rsplit('/', 1)[-1]}",
                role=role.name,
                policy_arn=arn,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for arn in policies
        ]
        return role, attachments

    def _eks(self, name: str, args: ClusterArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = f"{args.name_prefix}-{pulumi.get_stack()}"
        network = Network(
            f"{name}-net",
            NetworkArgs(
                cidr=args.vpc_cidr,
                availability_zones=args.availability_zones,
                single_nat_gateway=args.single_nat_gateway,
                cluster_name=cluster_name,
            ),
            opts=child,
        )
        cluster_role, cluster_attachments = self._role(f"{name}-cluster-role", "eks.amazonaws.com", CLUSTER_POLICIES)
        node_role, node_attachments = self._role(f"{name}-node-role", "ec2.amazonaws.com", NODE_POLICIES)
        secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"Envelope encryption of Kubernetes secrets in {cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=child,
        )

        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": network.private_subnet_ids + network.public_subnet_ids,
                "endpoint_public_access": args.endpoint_public_access,
                "endpoint_private_access": args.endpoint_private_access,
                "public_access_cidrs": args.public_access_cidrs if args.endpoint_public_access else None,
            },
            enabled_cluster_log_types=args.log_types,
            encryption_config={"provider": {"key_arn": secrets_key.arn}, "resources": ["secrets"]},
            access_config={"authentication_mode": "API_AND_CONFIG_MAP"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=cluster_attachments),
        )
        aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=network.private_subnet_ids,
            instance_types=args.node_instance_types,
            disk_size=args.node_disk_size_gb,
            scaling_config={
                "min_size": args.node_min_size,
                "desired_size": args.node_desired_size,
                "max_size": args.node_max_size,
            },
            update_config={"max_unavailable": 1},
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_attachments),
        )
        aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=cluster.identities.apply(_oidc_issuer),
            client_id_lists=["sts.amazonaws.com"],
            thumbprint_lists=[EKS_OIDC_ROOT_CA_THUMBPRINT],
            opts=child,
        )

        self.name = cluster.name
        self.endpoint = cluster.endpoint
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
                lambda parts: eks_kubeconfig(parts[0], parts[1], parts[2], args.region or "")
            )
        )

    def _local(self, name: str, args: ClusterArgs) -> None:
        self.name = pulumi.Output.from_input(args.local_context or name)
        self.endpoint = pulumi.Output.from_input(args.local_server or "")
        self.kubeconfig = pulumi.Output.secret(args.required_local_kubeconfig())

