"""Checks Nimbus's native VPC (v1) and EIP (v1) APIs with the unmodified Huawei Cloud Python
SDKs (huaweicloudsdkvpc v2, huaweicloudsdkeip v2).

Run by a Rust integration test as ``.venv/bin/python tests/clients/huawei_vpc_check.py``. The
clients are built with ``.with_endpoint(NIMBUS_ENDPOINT)``, never ``with_region``, so the SDKs
make no discovery calls and never contact the real cloud.

Environment:
  NIMBUS_ENDPOINT        http://127.0.0.1:PORT     (required)
  NIMBUS_ACCESS_KEY      the admin's access key    (required)
  NIMBUS_SECRET_KEY      the admin's secret key    (required)
  NIMBUS_PROJECT_ID      the admin project's id    (required)

The checks (SDK operation names):
  a. CreateVpc 192.168.0.0/16 (status OK); refused: a public range, a second VPC of the same
     name; ShowVpc, ListVpcs (by id, limit/marker), UpdateVpc renames.
  b. CreateSubnet 192.168.1.0/24 in the VPC (ACTIVE, its Neutron network and subnet ids, DNS
     servers); refused: a range outside the VPC, one overlapping the first subnet, a gateway
     outside the range, an unknown VPC; ShowSubnet, ListSubnets by vpc_id, UpdateSubnet.
  c. Security groups: CreateSecurityGroup (its egress rules), CreateSecurityGroupRule (TCP 80
     from anywhere), refused: ports 0-70000, an unknown protocol; ShowSecurityGroupRule,
     ListSecurityGroupRules by group, DeleteSecurityGroupRule.
  d. Ports: CreatePort at a chosen address in the subnet (a taken address refused), ShowPort,
     ListPorts by network_id.
  e. EIPs: CreatePublicip 5_bgp with a 5 Mbit/s dedicated bandwidth (DOWN); refused: sizes 0
     and 5000, a shared bandwidth, an unknown type; ListPublicips (by public address);
     UpdatePublicip binds it to the port (ACTIVE, the port's address), binding it to another
     port is refused until it is unbound (``{}``: DOWN); ShowBandwidth, ListBandwidths,
     UpdateBandwidth to 10 Mbit/s; DeletePublicip, then 404.
  f. Teardown: a VPC with subnets cannot be deleted (409); DeletePort, DeleteSecurityGroup,
     DeleteSubnet, DeleteVpc, each then 404.

Prints ``ok: ...`` or ``FAIL: ...`` per check, then ``vpc: N passed, M failed``; exits 1 if
anything failed.
"""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import check, summary  # noqa: E402

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # noqa: E402
from huaweicloudsdkeip.v2 import (  # noqa: E402
    CreatePublicipBandwidthOption,
    CreatePublicipOption,
    CreatePublicipRequest,
    CreatePublicipRequestBody,
    DeletePublicipRequest,
    EipClient,
    ListBandwidthsRequest,
    ListPublicipsRequest,
    ShowBandwidthRequest,
    ShowPublicipRequest,
    UpdateBandwidthOption,
    UpdateBandwidthRequest,
    UpdateBandwidthRequestBody,
    UpdatePublicipOption,
    UpdatePublicipRequest,
    UpdatePublicipsRequestBody,
)
from huaweicloudsdkvpc.v2 import (  # noqa: E402
    CreatePortOption,
    CreatePortRequest,
    CreatePortRequestBody,
    CreateSecurityGroupOption,
    CreateSecurityGroupRequest,
    CreateSecurityGroupRequestBody,
    CreateSecurityGroupRuleOption,
    CreateSecurityGroupRuleRequest,
    CreateSecurityGroupRuleRequestBody,
    CreateSubnetOption,
    CreateSubnetRequest,
    CreateSubnetRequestBody,
    CreateVpcOption,
    CreateVpcRequest,
    CreateVpcRequestBody,
    DeletePortRequest,
    DeleteSecurityGroupRequest,
    DeleteSecurityGroupRuleRequest,
    DeleteSubnetRequest,
    DeleteVpcRequest,
    FixedIp,
    ListPortsRequest,
    ListSecurityGroupRulesRequest,
    ListSubnetsRequest,
    ListVpcsRequest,
    ShowPortRequest,
    ShowSecurityGroupRuleRequest,
    ShowSubnetRequest,
    ShowVpcRequest,
    UpdateSubnetOption,
    UpdateSubnetRequest,
    UpdateSubnetRequestBody,
    UpdateVpcOption,
    UpdateVpcRequest,
    UpdateVpcRequestBody,
    VpcClient,
)

ENDPOINT = os.environ["NIMBUS_ENDPOINT"]
creds = BasicCredentials(os.environ["NIMBUS_ACCESS_KEY"], os.environ["NIMBUS_SECRET_KEY"], os.environ["NIMBUS_PROJECT_ID"])
vpc = VpcClient.new_builder().with_credentials(creds).with_endpoint(ENDPOINT).build()
eip = EipClient.new_builder().with_credentials(creds).with_endpoint(ENDPOINT).build()
suffix = uuid.uuid4().hex[:6]
state = {}


def refused(call, status=None):
    """The (status, error_code, error_msg) of a call that must fail with a 4xx."""
    try:
        call()
    except ClientRequestException as e:
        assert 400 <= e.status_code < 500, (e.status_code, e.error_msg)
        assert e.error_code and e.error_msg, (e.error_code, e.error_msg)
        if status is not None:
            assert e.status_code == status, (e.status_code, e.error_msg)
        return e.status_code, e.error_code, e.error_msg
    raise AssertionError("the call succeeded")


def new_vpc(name, cidr):
    body = CreateVpcRequestBody(vpc=CreateVpcOption(name=name, cidr=cidr, description="checked by the SDK"))
    return vpc.create_vpc(CreateVpcRequest(body=body)).vpc


def new_subnet(name, cidr, gateway, vpc_id, **kw):
    opt = CreateSubnetOption(name=name, cidr=cidr, gateway_ip=gateway, vpc_id=vpc_id, **kw)
    return vpc.create_subnet(CreateSubnetRequest(body=CreateSubnetRequestBody(subnet=opt))).subnet


@check("a. VPCs: create, refused ranges and names, show, list, update")
def _():
    v = new_vpc(f"vpc-{suffix}", "192.168.0.0/16")
    state["vpc"] = v.id
    assert (v.status, v.cidr, v.name) == ("OK", "192.168.0.0/16", f"vpc-{suffix}"), v
    refused(lambda: new_vpc(f"pub-{suffix}", "8.8.0.0/16"), 400)
    refused(lambda: new_vpc(f"vpc-{suffix}", "10.0.0.0/16"), 409)
    shown = vpc.show_vpc(ShowVpcRequest(vpc_id=v.id)).vpc
    assert shown.id == v.id and shown.created_at is not None, shown
    other = new_vpc(f"vpc2-{suffix}", "10.8.0.0/16")
    state["vpc2"] = other.id
    listed = vpc.list_vpcs(ListVpcsRequest(id=v.id)).vpcs
    assert [x.id for x in listed] == [v.id], listed
    first = vpc.list_vpcs(ListVpcsRequest(limit=1)).vpcs
    assert len(first) == 1, first
    rest = vpc.list_vpcs(ListVpcsRequest(marker=first[0].id)).vpcs
    assert first[0].id not in [x.id for x in rest] and rest, rest
    body = UpdateVpcRequestBody(vpc=UpdateVpcOption(name=f"vpc-{suffix}-renamed"))
    updated = vpc.update_vpc(UpdateVpcRequest(vpc_id=v.id, body=body)).vpc
    assert updated.name == f"vpc-{suffix}-renamed", updated
    assert refused(lambda: vpc.show_vpc(ShowVpcRequest(vpc_id=str(uuid.uuid4()))))[0] == 404


@check("b. subnets: create inside the VPC, refused ranges and gateways, show, list, update")
def _():
    s = new_subnet(f"sub-{suffix}", "192.168.1.0/24", "192.168.1.1", state["vpc"], primary_dns="192.168.1.53")
    state["subnet"] = s.id
    state["neutron_subnet"] = s.neutron_subnet_id
    assert (s.status, s.vpc_id, s.cidr, s.gateway_ip) == ("ACTIVE", state["vpc"], "192.168.1.0/24", "192.168.1.1"), s
    assert s.neutron_network_id == s.id and s.neutron_subnet_id and s.dhcp_enable is True, s
    assert s.primary_dns == "192.168.1.53" and s.dns_list == ["192.168.1.53"], s
    for cidr, gw, vpc_id in [
        ("10.1.0.0/24", "10.1.0.1", state["vpc"]),          # outside the VPC
        ("192.168.1.128/25", "192.168.1.129", state["vpc"]),  # overlaps the first subnet
        ("192.168.2.0/24", "192.168.3.1", state["vpc"]),    # gateway outside the subnet
        ("192.168.4.0/24", "192.168.4.1", str(uuid.uuid4())),  # unknown VPC
    ]:
        refused(lambda: new_subnet(f"bad-{suffix}", cidr, gw, vpc_id))
    listed = vpc.list_subnets(ListSubnetsRequest(vpc_id=state["vpc"])).subnets
    assert [x.id for x in listed] == [s.id], listed
    assert listed[0].available_ip_address_count > 200, listed[0]
    shown = vpc.show_subnet(ShowSubnetRequest(subnet_id=s.id)).subnet
    assert shown.name == f"sub-{suffix}", shown
    body = UpdateSubnetRequestBody(subnet=UpdateSubnetOption(name=f"sub-{suffix}-b", secondary_dns="192.168.1.54"))
    r = vpc.update_subnet(UpdateSubnetRequest(vpc_id=state["vpc"], subnet_id=s.id, body=body)).subnet
    assert (r.id, r.status) == (s.id, "ACTIVE"), r
    shown = vpc.show_subnet(ShowSubnetRequest(subnet_id=s.id)).subnet
    assert shown.name == f"sub-{suffix}-b" and shown.secondary_dns == "192.168.1.54", shown


@check("c. security groups and rules")
def _():
    body = CreateSecurityGroupRequestBody(security_group=CreateSecurityGroupOption(name=f"sg-{suffix}"))
    g = vpc.create_security_group(CreateSecurityGroupRequest(body=body)).security_group
    state["sg"] = g.id
    assert {r.direction for r in g.security_group_rules} == {"egress"}, g
    opt = CreateSecurityGroupRuleOption(security_group_id=g.id, direction="ingress", protocol="tcp",
                                        port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0")
    rule = vpc.create_security_group_rule(
        CreateSecurityGroupRuleRequest(body=CreateSecurityGroupRuleRequestBody(security_group_rule=opt))
    ).security_group_rule
    assert (rule.protocol, rule.port_range_min, rule.remote_ip_prefix) == ("tcp", 80, "0.0.0.0/0"), rule
    for bad in [
        CreateSecurityGroupRuleOption(security_group_id=g.id, direction="ingress", protocol="tcp",
                                      port_range_min=0, port_range_max=70000),
        CreateSecurityGroupRuleOption(security_group_id=g.id, direction="ingress", protocol="bogus"),
        CreateSecurityGroupRuleOption(security_group_id=g.id, direction="sideways"),
    ]:
        body = CreateSecurityGroupRuleRequestBody(security_group_rule=bad)
        refused(lambda: vpc.create_security_group_rule(CreateSecurityGroupRuleRequest(body=body)), 400)
    shown = vpc.show_security_group_rule(ShowSecurityGroupRuleRequest(security_group_rule_id=rule.id))
    assert shown.security_group_rule.id == rule.id
    listed = vpc.list_security_group_rules(ListSecurityGroupRulesRequest(security_group_id=g.id))
    assert rule.id in [r.id for r in listed.security_group_rules] and len(listed.security_group_rules) == 3, listed
    vpc.delete_security_group_rule(DeleteSecurityGroupRuleRequest(security_group_rule_id=rule.id))
    assert refused(lambda: vpc.show_security_group_rule(
        ShowSecurityGroupRuleRequest(security_group_rule_id=rule.id)))[0] == 404


@check("d. ports: a chosen address, a taken one refused, show, list")
def _():
    def make(name):
        opt = CreatePortOption(name=name, network_id=state["subnet"], security_groups=[state["sg"]],
                               fixed_ips=[FixedIp(subnet_id=state["neutron_subnet"], ip_address="192.168.1.10")])
        return vpc.create_port(CreatePortRequest(body=CreatePortRequestBody(port=opt))).port
    p = make(f"port-{suffix}")
    state["port"] = p.id
    assert p.fixed_ips[0].ip_address == "192.168.1.10" and p.security_groups == [state["sg"]], p
    assert refused(lambda: make(f"port2-{suffix}"))[0] == 409
    opt = CreatePortOption(name=f"port3-{suffix}", network_id=state["subnet"])
    state["port2"] = vpc.create_port(CreatePortRequest(body=CreatePortRequestBody(port=opt))).port.id
    shown = vpc.show_port(ShowPortRequest(port_id=p.id)).port
    assert shown.mac_address == p.mac_address and shown.bindingvnic_type == "normal", shown
    listed = vpc.list_ports(ListPortsRequest(network_id=state["subnet"])).ports
    assert {p.id, state["port2"]} <= {x.id for x in listed}, listed


@check("e. EIPs: allocate with a bandwidth, refused bandwidths, bind, rebind refused, unbind, resize, release")
def _():
    def allocate(size=5, share="PER", kind="5_bgp"):
        body = CreatePublicipRequestBody(
            publicip=CreatePublicipOption(type=kind, alias=f"eip-{suffix}"),
            bandwidth=CreatePublicipBandwidthOption(name=f"bw-{suffix}", size=size, share_type=share),
        )
        return eip.create_publicip(CreatePublicipRequest(body=body)).publicip
    e = allocate()
    assert (e.status, e.type, e.bandwidth_size) == ("DOWN", "5_bgp", 5), e
    assert e.public_ip_address.startswith("198.18."), e
    for bad in [dict(size=0), dict(size=5000), dict(share="WHOLE"), dict(kind="5_nowhere")]:
        refused(lambda: allocate(**bad), 400)
    listed = eip.list_publicips(ListPublicipsRequest(public_ip_address=[e.public_ip_address])).publicips
    assert [x.id for x in listed] == [e.id], listed

    def bind(port):
        body = UpdatePublicipsRequestBody(publicip=UpdatePublicipOption(port_id=port))
        return eip.update_publicip(UpdatePublicipRequest(publicip_id=e.id, body=body)).publicip
    bound = bind(state["port"])
    assert (bound.status, bound.port_id, bound.private_ip_address) == ("ACTIVE", state["port"], "192.168.1.10"), bound
    assert refused(lambda: bind(state["port2"]))[0] == 409
    body = UpdatePublicipsRequestBody(publicip=UpdatePublicipOption())
    unbound = eip.update_publicip(UpdatePublicipRequest(publicip_id=e.id, body=body)).publicip
    assert unbound.status == "DOWN" and unbound.port_id is None, unbound
    assert bind(state["port2"]).status == "ACTIVE"
    shown = eip.show_publicip(ShowPublicipRequest(publicip_id=e.id)).publicip
    bw = eip.show_bandwidth(ShowBandwidthRequest(bandwidth_id=shown.bandwidth_id)).bandwidth
    assert (bw.size, bw.share_type, bw.publicip_info[0].publicip_id) == (5, "PER", e.id), bw
    assert bw.id in [b.id for b in eip.list_bandwidths(ListBandwidthsRequest()).bandwidths]
    body = UpdateBandwidthRequestBody(bandwidth=UpdateBandwidthOption(size=10))
    resized = eip.update_bandwidth(UpdateBandwidthRequest(bandwidth_id=bw.id, body=body)).bandwidth
    assert resized.size == 10, resized
    body = UpdateBandwidthRequestBody(bandwidth=UpdateBandwidthOption(size=2001))
    refused(lambda: eip.update_bandwidth(UpdateBandwidthRequest(bandwidth_id=bw.id, body=body)), 400)
    eip.delete_publicip(DeletePublicipRequest(publicip_id=e.id))
    assert refused(lambda: eip.show_publicip(ShowPublicipRequest(publicip_id=e.id)))[0] == 404


@check("f. teardown: a VPC with subnets stays; ports, group, subnet and VPCs go")
def _():
    assert refused(lambda: vpc.delete_vpc(DeleteVpcRequest(vpc_id=state["vpc"])))[0] == 409
    for p in ["port", "port2"]:
        vpc.delete_port(DeletePortRequest(port_id=state[p]))
    vpc.delete_security_group(DeleteSecurityGroupRequest(security_group_id=state["sg"]))
    vpc.delete_subnet(DeleteSubnetRequest(vpc_id=state["vpc"], subnet_id=state["subnet"]))
    assert refused(lambda: vpc.show_subnet(ShowSubnetRequest(subnet_id=state["subnet"])))[0] == 404
    for v in ["vpc", "vpc2"]:
        vpc.delete_vpc(DeleteVpcRequest(vpc_id=state[v]))
        assert refused(lambda: vpc.show_vpc(ShowVpcRequest(vpc_id=state[v])))[0] == 404


summary("vpc")
