"""The VPC the EKS documentation asks for: DNS on, subnets tagged for load balancers, every subnet routed.

https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html and alb-ingress.html (subnet tags).
"""

from __future__ import annotations

import pytest

from components.network import Network, NetworkArgs, subnet_cidrs
from testsupport.pulumi_mocks import run_program

ZONES = ["eu-west-1a", "eu-west-1b"]


@pytest.fixture
def mocks():
    def program():
        Network("net", NetworkArgs(cidr="10.8.0.0/16", availability_zones=ZONES, single_nat_gateway=True, cluster_name="web-dev"))

    return run_program(program, "dev", {}).mocks


def test_the_vpc_resolves_names_as_eks_nodes_need(mocks):
    vpc = mocks.one("aws:ec2/vpc:Vpc")

    assert vpc.inputs["cidrBlock"] == "10.8.0.0/16"
    assert vpc.inputs["enableDnsHostnames"] is True and vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["tags"]["kubernetes.io/cluster/web-dev"] == "shared"


def test_public_subnets_take_internet_facing_and_private_ones_internal_load_balancers(mocks):
    subnets = {s.name: s.inputs for s in mocks.of_type("aws:ec2/subnet:Subnet")}

    for zone in ZONES:
        public, private = subnets[f"net-public-{zone}"], subnets[f"net-private-{zone}"]
        assert public["tags"]["kubernetes.io/role/elb"] == "1" and "kubernetes.io/role/internal-elb" not in public["tags"]
        assert private["tags"]["kubernetes.io/role/internal-elb"] == "1" and "kubernetes.io/role/elb" not in private["tags"]
        assert public["tags"]["kubernetes.io/cluster/web-dev"] == private["tags"]["kubernetes.io/cluster/web-dev"] == "shared"
        assert public["vpcId"] == private["vpcId"] == "net-vpc-id"
        # the console shows a resource by its `Name` tag
        assert (public["tags"]["Name"], private["tags"]["Name"]) == (f"net-public-{zone}", f"net-private-{zone}")


def test_the_public_and_private_subnets_split_the_vpc_without_overlap(mocks):
    subnets = {s.name: s.inputs["cidrBlock"] for s in mocks.of_type("aws:ec2/subnet:Subnet")}

    assert subnets == {
        "net-public-eu-west-1a": "10.8.0.0/20",
        "net-public-eu-west-1b": "10.8.16.0/20",
        "net-private-eu-west-1a": "10.8.32.0/20",
        "net-private-eu-west-1b": "10.8.48.0/20",
    }


def test_a_vpc_holds_exactly_as_many_zones_as_its_sixteen_blocks_allow():
    public, private = subnet_cidrs("10.8.0.0/16", 8)

    assert len(public) == len(private) == 8 and private[-1] == "10.8.240.0/20"
    with pytest.raises(ValueError, match="cannot hold a public and a private subnet for 9 zones"):
        subnet_cidrs("10.8.0.0/16", 9)


def test_every_subnet_is_associated_with_its_own_sides_route_table(mocks):
    tables = {t.name: t for t in mocks.of_type("aws:ec2/routeTable:RouteTable")}
    associations = {a.inputs["subnetId"]: a.inputs["routeTableId"] for a in mocks.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")}

    for zone in ZONES:
        assert associations[f"net-public-{zone}-id"] == "net-public-id"
        assert associations[f"net-private-{zone}-id"] == f"net-private-{zone}-id"
    assert tables["net-public"].inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "gatewayId": "net-igw-id"}]
    assert all(t.inputs["vpcId"] == "net-vpc-id" for t in tables.values())
    assert mocks.one("aws:ec2/internetGateway:InternetGateway").inputs["vpcId"] == "net-vpc-id"


def test_the_nat_gateway_has_a_vpc_elastic_ip_and_sits_in_a_public_subnet(mocks):
    address = mocks.one("aws:ec2/eip:Eip")
    nat = mocks.one("aws:ec2/natGateway:NatGateway")

    assert address.inputs["domain"] == "vpc"
    assert nat.inputs["allocationId"] == f"{address.name}-id"
    assert nat.inputs["subnetId"] == "net-public-eu-west-1a-id"
    assert all(t.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": f"{nat.name}-id"}]
               for t in mocks.of_type("aws:ec2/routeTable:RouteTable") if "-private-" in t.name)
