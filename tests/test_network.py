import ipaddress

import pytest

from components.network import Network, NetworkArgs, subnet_cidrs
from testsupport.pulumi_mocks import run_program


def network(zones, single_nat):
    return lambda: Network(
        "net", NetworkArgs(cidr="10.0.0.0/16", availability_zones=zones, single_nat_gateway=single_nat, cluster_name="c")
    )


def test_subnets_do_not_overlap_and_stay_inside_the_vpc():
    public, private = subnet_cidrs("10.0.0.0/16", 3)
    networks = [ipaddress.ip_network(c) for c in public + private]

    assert len(networks) == 6
    assert all(n.subnet_of(ipaddress.ip_network("10.0.0.0/16")) for n in networks)
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])


def test_a_vpc_too_small_for_the_zones_is_refused():
    with pytest.raises(ValueError, match="cannot hold"):
        subnet_cidrs("10.0.0.0/16", 9)


@pytest.mark.parametrize("single_nat, nat_count", [(True, 1), (False, 3)])
def test_each_zone_has_a_public_and_private_subnet_and_private_traffic_leaves_by_nat(single_nat, nat_count):
    zones = ["z-a", "z-b", "z-c"]
    mocks = run_program(network(zones, single_nat), "dev", {}).mocks
    subnets = mocks.of_type("aws:ec2/subnet:Subnet")
    nats = mocks.of_type("aws:ec2/natGateway:NatGateway")
    private_tables = [r for r in mocks.of_type("aws:ec2/routeTable:RouteTable") if "-private-" in r.name]
    public_table = next(r for r in mocks.of_type("aws:ec2/routeTable:RouteTable") if r.name == "net-public")

    assert sorted(s.inputs["availabilityZone"] for s in subnets) == sorted(zones * 2)
    assert len(nats) == nat_count
    assert all(n.inputs["subnetId"].startswith("net-public-") for n in nats)
    assert {t.inputs["routes"][0]["natGatewayId"] for t in private_tables} == {f"{n.name}-id" for n in nats}
    assert public_table.inputs["routes"][0]["gatewayId"] == "net-igw-id"
    assert all(s.inputs.get("mapPublicIpOnLaunch") for s in subnets if "-public-" in s.name)
