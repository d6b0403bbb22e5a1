"""Checks Nimbus's native NAT gateway (v2) and DNS (v2) APIs with the unmodified Huawei Cloud
Python SDKs (huaweicloudsdknat v2, huaweicloudsdkdns v2), on a VPC, subnet, port and EIPs made
with huaweicloudsdkvpc and huaweicloudsdkeip.

Run by a Rust integration test as ``.venv/bin/python tests/clients/huawei_nat_dns_check.py``;
the clients are built with ``.with_endpoint(NIMBUS_ENDPOINT)`` only.

Environment: NIMBUS_ENDPOINT, NIMBUS_ACCESS_KEY, NIMBUS_SECRET_KEY, NIMBUS_PROJECT_ID (required).

The checks (SDK operation names):
  a. Setup: two VPCs, a subnet in each, a port at 192.168.1.10, three EIPs.
  b. CreateNatGateway on the VPC's subnet (ACTIVE); refused: spec 9, another VPC's subnet, a
     second gateway for the VPC; ShowNatGateway, ListNatGateways by router_id, UpdateNatGateway.
  c. CreateNatGatewaySnatRule for the subnet with an EIP (its address shown); refused: both a
     subnet and a cidr, a cidr outside the VPC, an EIP bound to a port, a second rule for the
     subnet; ListNatGatewaySnatRules by gateway, ShowNatGatewaySnatRule.
  d. CreateNatGatewayDnatRule tcp 8080 -> the port's 80; a range 9000-9009 -> 9000-9009 of a
     private address; refused: the same external port again, protocol icmp, port 70000,
     ranges of different lengths; an EIP a rule uses cannot be bound to a port nor released
     (UpdatePublicip, DeletePublicip: 409); ListNatGatewayDnatRules, ShowNatGatewayDnatRule.
  e. DeleteNatGateway with rules is refused (409); the rules go, then the gateway (404).
  f. DNS zones: CreatePrivateZone served in the VPC (its SOA and NS: record_num 2),
     CreatePublicZone; refused: the same public zone twice, a bad name, a private zone with
     no VPC; ListPrivateZones (type=private), ListPublicZones, ShowPrivateZone;
     AssociateRouter a second VPC, DisassociateRouter it, the last VPC stays (400).
  g. Record sets: CreateRecordSet A in the private zone, MX and TXT in the public one;
     refused: a name outside the zone, an A record that is no address, a PTR in a public zone,
     a CNAME beside an A; ListRecordSetsByZone (by type), ShowRecordSet, UpdateRecordSet; the
     zone's own SOA cannot be deleted; DeleteRecordSet, DeletePrivateZone, DeletePublicZone.
"""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import check, summary  # noqa: E402

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # noqa: E402
from huaweicloudsdkdns.v2 import (  # noqa: E402
    AssociateRouterRequest,
    AssociateRouterRequestBody,
    CreatePrivateZoneReq,
    CreatePrivateZoneRequest,
    CreatePublicZoneReq,
    CreatePublicZoneRequest,
    CreateRecordSetRequest,
    CreateRecordSetRequestBody,
    DeletePrivateZoneRequest,
    DeletePublicZoneRequest,
    DeleteRecordSetRequest,
    DisassociateRouterRequest,
    DisassociaterouterRequestBody,
    DnsClient,
    ListPrivateZonesRequest,
    ListPublicZonesRequest,
    ListRecordSetsByZoneRequest,
    Router,
    ShowPrivateZoneRequest,
    ShowRecordSetRequest,
    UpdateRecordSetReq,
    UpdateRecordSetRequest,
)
from huaweicloudsdkeip.v2 import (  # noqa: E402
    CreatePublicipBandwidthOption,
    CreatePublicipOption,
    CreatePublicipRequest,
    CreatePublicipRequestBody,
    DeletePublicipRequest,
    EipClient,
    UpdatePublicipOption,
    UpdatePublicipRequest,
    UpdatePublicipsRequestBody,
)
from huaweicloudsdknat.v2 import (  # noqa: E402
    CreateNatGatewayDnatOption,
    CreateNatGatewayDnatRuleOption,
    CreateNatGatewayDnatRuleRequest,
    CreateNatGatewayOption,
    CreateNatGatewayRequest,
    CreateNatGatewayRequestBody,
    CreateNatGatewaySnatRuleOption,
    CreateNatGatewaySnatRuleRequest,
    CreateNatGatewaySnatRuleRequestOption,
    DeleteNatGatewayDnatRuleRequest,
    DeleteNatGatewayRequest,
    DeleteNatGatewaySnatRuleRequest,
    ListNatGatewayDnatRulesRequest,
    ListNatGatewaySnatRulesRequest,
    ListNatGatewaysRequest,
    NatClient,
    ShowNatGatewayDnatRuleRequest,
    ShowNatGatewayRequest,
    ShowNatGatewaySnatRuleRequest,
    UpdateNatGatewayOption,
    UpdateNatGatewayRequest,
    UpdateNatGatewayRequestBody,
)
from huaweicloudsdkvpc.v2 import (  # noqa: E402
    CreatePortOption,
    CreatePortRequest,
    CreatePortRequestBody,
    CreateSubnetOption,
    CreateSubnetRequest,
    CreateSubnetRequestBody,
    CreateVpcOption,
    CreateVpcRequest,
    CreateVpcRequestBody,
    FixedIp,
    VpcClient,
)

ENDPOINT = os.environ["NIMBUS_ENDPOINT"]
creds = BasicCredentials(os.environ["NIMBUS_ACCESS_KEY"], os.environ["NIMBUS_SECRET_KEY"], os.environ["NIMBUS_PROJECT_ID"])


def client(cls):
    return cls.new_builder().with_credentials(creds).with_endpoint(ENDPOINT).build()


vpc, eip, nat, dns = client(VpcClient), client(EipClient), client(NatClient), client(DnsClient)
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


@check("a. setup: VPCs, subnets, a port, EIPs")
def _():
    for key, cidr, sub in [("vpc", "192.168.0.0/16", "192.168.1"), ("vpc2", "10.20.0.0/16", "10.20.1")]:
        body = CreateVpcRequestBody(vpc=CreateVpcOption(name=f"{key}-{suffix}", cidr=cidr))
        state[key] = vpc.create_vpc(CreateVpcRequest(body=body)).vpc.id
        opt = CreateSubnetOption(name=f"{key}-sub-{suffix}", cidr=f"{sub}.0/24", gateway_ip=f"{sub}.1", vpc_id=state[key])
        s = vpc.create_subnet(CreateSubnetRequest(body=CreateSubnetRequestBody(subnet=opt))).subnet
        state[f"{key}_subnet"] = s.id
        state[f"{key}_neutron_subnet"] = s.neutron_subnet_id
    opt = CreatePortOption(name=f"port-{suffix}", network_id=state["vpc_subnet"],
                           fixed_ips=[FixedIp(subnet_id=state["vpc_neutron_subnet"], ip_address="192.168.1.10")])
    state["port"] = vpc.create_port(CreatePortRequest(body=CreatePortRequestBody(port=opt))).port.id
    for i in range(3):
        body = CreatePublicipRequestBody(publicip=CreatePublicipOption(type="5_bgp"),
                                         bandwidth=CreatePublicipBandwidthOption(name=f"bw{i}", size=10, share_type="PER"))
        e = eip.create_publicip(CreatePublicipRequest(body=body)).publicip
        state[f"eip{i}"], state[f"eip{i}_address"] = e.id, e.public_ip_address


def new_gateway(router, network, spec="1"):
    opt = CreateNatGatewayOption(name=f"nat-{suffix}", router_id=router, internal_network_id=network, spec=spec)
    return nat.create_nat_gateway(CreateNatGatewayRequest(body=CreateNatGatewayRequestBody(nat_gateway=opt))).nat_gateway


@check("b. NAT gateways: create, refused specs, subnets and duplicates, show, list, update")
def _():
    g = new_gateway(state["vpc"], state["vpc_subnet"])
    state["nat"] = g.id
    assert (g.status, g.spec, g.router_id) == ("ACTIVE", "1", state["vpc"]), g
    refused(lambda: new_gateway(state["vpc2"], state["vpc2_subnet"], spec="9"), 400)
    refused(lambda: new_gateway(state["vpc"], state["vpc2_subnet"]), 400)
    refused(lambda: new_gateway(state["vpc"], state["vpc_subnet"]), 409)
    assert nat.show_nat_gateway(ShowNatGatewayRequest(nat_gateway_id=g.id)).nat_gateway.name == f"nat-{suffix}"
    listed = nat.list_nat_gateways(ListNatGatewaysRequest(router_id=state["vpc"])).nat_gateways
    assert [x.id for x in listed] == [g.id], listed
    body = UpdateNatGatewayRequestBody(nat_gateway=UpdateNatGatewayOption(spec="2", description="bigger"))
    u = nat.update_nat_gateway(UpdateNatGatewayRequest(nat_gateway_id=g.id, body=body)).nat_gateway
    assert (u.spec, u.description) == ("2", "bigger"), u


def new_snat(**kw):
    opt = CreateNatGatewaySnatRuleOption(nat_gateway_id=state["nat"], **kw)
    req = CreateNatGatewaySnatRuleRequest(body=CreateNatGatewaySnatRuleRequestOption(snat_rule=opt))
    return nat.create_nat_gateway_snat_rule(req).snat_rule


@check("c. SNAT rules: a subnet out as an EIP; refused sources and EIPs")
def _():
    r = new_snat(network_id=state["vpc_subnet"], floating_ip_id=state["eip0"])
    state["snat"] = r.id
    assert (r.status, r.floating_ip_address, r.network_id) == ("ACTIVE", state["eip0_address"], state["vpc_subnet"]), r
    refused(lambda: new_snat(network_id=state["vpc_subnet"], cidr="192.168.1.0/25", floating_ip_id=state["eip0"]), 400)
    refused(lambda: new_snat(cidr="10.99.0.0/24", floating_ip_id=state["eip0"]), 400)
    refused(lambda: new_snat(network_id=state["vpc_subnet"], floating_ip_id=state["eip0"]), 409)
    # An EIP bound to a port cannot be used.
    bind = UpdatePublicipsRequestBody(publicip=UpdatePublicipOption(port_id=state["port"]))
    eip.update_publicip(UpdatePublicipRequest(publicip_id=state["eip2"], body=bind))
    refused(lambda: new_snat(cidr="192.168.1.0/25", floating_ip_id=state["eip2"]), 409)
    unbind = UpdatePublicipsRequestBody(publicip=UpdatePublicipOption())
    eip.update_publicip(UpdatePublicipRequest(publicip_id=state["eip2"], body=unbind))
    listed = nat.list_nat_gateway_snat_rules(ListNatGatewaySnatRulesRequest(nat_gateway_id=[state["nat"]])).snat_rules
    assert [x.id for x in listed] == [r.id], listed
    shown = nat.show_nat_gateway_snat_rule(ShowNatGatewaySnatRuleRequest(snat_rule_id=r.id)).snat_rule
    assert shown.floating_ip_id == state["eip0"], shown


def new_dnat(**kw):
    opt = CreateNatGatewayDnatOption(nat_gateway_id=state["nat"], **kw)
    req = CreateNatGatewayDnatRuleRequest(body=CreateNatGatewayDnatRuleOption(dnat_rule=opt))
    return nat.create_nat_gateway_dnat_rule(req).dnat_rule


@check("d. DNAT rules: a port and a range forwarded; refused ports, protocols, duplicates; EIPs in use kept")
def _():
    r = new_dnat(floating_ip_id=state["eip1"], port_id=state["port"], protocol="TCP",
                 internal_service_port=80, external_service_port=8080)
    state["dnat"] = r.id
    assert (r.protocol, r.external_service_port, r.floating_ip_address) == ("tcp", 8080, state["eip1_address"]), r
    ranged = new_dnat(floating_ip_id=state["eip1"], private_ip="192.168.1.20", protocol="udp",
                      internal_service_port=0, external_service_port=0,
                      internal_service_port_range="9000-9009", external_service_port_range="9000-9009")
    state["dnat2"] = ranged.id
    assert ranged.external_service_port_range == "9000-9009", ranged
    for kw, status in [
        (dict(port_id=state["port"], protocol="tcp", internal_service_port=81, external_service_port=8080), 409),
        (dict(port_id=state["port"], protocol="icmp", internal_service_port=1, external_service_port=1), 400),
        (dict(port_id=state["port"], protocol="tcp", internal_service_port=80, external_service_port=70000), 400),
        (dict(private_ip="192.168.1.20", protocol="tcp", internal_service_port=0, external_service_port=0,
              internal_service_port_range="100-110", external_service_port_range="100-105"), 400),
    ]:
        refused(lambda: new_dnat(floating_ip_id=state["eip1"], **kw), status)
    bind = UpdatePublicipsRequestBody(publicip=UpdatePublicipOption(port_id=state["port"]))
    refused(lambda: eip.update_publicip(UpdatePublicipRequest(publicip_id=state["eip1"], body=bind)), 409)
    refused(lambda: eip.delete_publicip(DeletePublicipRequest(publicip_id=state["eip1"])), 409)
    listed = nat.list_nat_gateway_dnat_rules(ListNatGatewayDnatRulesRequest(nat_gateway_id=[state["nat"]])).dnat_rules
    assert {x.id for x in listed} == {r.id, ranged.id}, listed
    shown = nat.show_nat_gateway_dnat_rule(ShowNatGatewayDnatRuleRequest(dnat_rule_id=r.id)).dnat_rule
    assert shown.port_id == state["port"] and shown.internal_service_port == 80, shown


@check("e. a NAT gateway with rules stays; the rules, then the gateway, go")
def _():
    refused(lambda: nat.delete_nat_gateway(DeleteNatGatewayRequest(nat_gateway_id=state["nat"])), 409)
    nat.delete_nat_gateway_snat_rule(DeleteNatGatewaySnatRuleRequest(nat_gateway_id=state["nat"], snat_rule_id=state["snat"]))
    for d in ["dnat", "dnat2"]:
        nat.delete_nat_gateway_dnat_rule(DeleteNatGatewayDnatRuleRequest(nat_gateway_id=state["nat"], dnat_rule_id=state[d]))
    nat.delete_nat_gateway(DeleteNatGatewayRequest(nat_gateway_id=state["nat"]))
    refused(lambda: nat.show_nat_gateway(ShowNatGatewayRequest(nat_gateway_id=state["nat"])), 404)
    eip.delete_publicip(DeletePublicipRequest(publicip_id=state["eip1"]))


def new_private(name, router=None):
    body = CreatePrivateZoneReq(name=name, zone_type="private", router=Router(router_id=router) if router else None)
    return dns.create_private_zone(CreatePrivateZoneRequest(body=body))


def new_public(name):
    return dns.create_public_zone(CreatePublicZoneRequest(body=CreatePublicZoneReq(name=name, ttl=600)))


@check("f. zones: private in a VPC, public; refused names and duplicates; lists; VPC associations")
def _():
    z = new_private(f"corp{suffix}.internal", state["vpc"])
    state["private"] = z.id
    assert (z.name, z.zone_type, z.router.router_id) == (f"corp{suffix}.internal.", "private", state["vpc"]), z
    p = new_public(f"Example{suffix}.ORG.")
    state["public"] = p.id
    assert (p.name, p.zone_type, p.ttl) == (f"example{suffix}.org.", "public", 600), p
    refused(lambda: new_public(f"example{suffix}.org"), 409)
    refused(lambda: new_public("-bad.example.org"), 400)
    refused(lambda: new_private(f"nowhere{suffix}.internal"), 400)
    shown = dns.show_private_zone(ShowPrivateZoneRequest(zone_id=z.id))
    assert shown.record_num == 2 and [r.router_id for r in shown.routers] == [state["vpc"]], shown
    private = dns.list_private_zones(ListPrivateZonesRequest(type="private"))
    assert z.id in [x.id for x in private.zones] and p.id not in [x.id for x in private.zones], private
    public = dns.list_public_zones(ListPublicZonesRequest())
    assert p.id in [x.id for x in public.zones] and public.metadata.total_count >= 1, public
    body = AssociateRouterRequestBody(router=Router(router_id=state["vpc2"]))
    assert dns.associate_router(AssociateRouterRequest(zone_id=z.id, body=body)).router_id == state["vpc2"]
    body = DisassociaterouterRequestBody(router=Router(router_id=state["vpc2"]))
    dns.disassociate_router(DisassociateRouterRequest(zone_id=z.id, body=body))
    body = DisassociaterouterRequestBody(router=Router(router_id=state["vpc"]))
    refused(lambda: dns.disassociate_router(DisassociateRouterRequest(zone_id=z.id, body=body)), 400)


def new_record(zone, name, rtype, records):
    body = CreateRecordSetRequestBody(name=name, type=rtype, records=records)
    return dns.create_record_set(CreateRecordSetRequest(zone_id=zone, body=body))


@check("g. record sets: create, refused names and records, list, show, update, delete; zones go")
def _():
    private, public = f"corp{suffix}.internal.", f"example{suffix}.org."
    a = new_record(state["private"], f"db.{private}", "A", ["192.168.1.77"])
    assert (a.type, a.records, a.zone_name, a.ttl) == ("A", ["192.168.1.77"], private, 300), a
    mx = new_record(state["public"], public, "MX", [f"10 mail.{public}"])
    assert mx.records == [f"10 mail.{public}"], mx
    new_record(state["public"], public, "TXT", ['"v=spf1 -all"'])
    for zone, name, rtype, records in [
        (state["private"], "db.elsewhere.internal.", "A", ["192.168.1.77"]),
        (state["private"], f"web.{private}", "A", ["not-an-address"]),
        (state["public"], f"5.{public}", "PTR", [f"host.{public}"]),
        (state["private"], f"db.{private}", "CNAME", [f"other.{private}"]),
    ]:
        refused(lambda: new_record(zone, name, rtype, records), None)
    listed = dns.list_record_sets_by_zone(ListRecordSetsByZoneRequest(zone_id=state["private"]))
    types = sorted(r.type for r in listed.recordsets)
    assert types == ["A", "NS", "SOA"] and listed.metadata.total_count == 3, listed
    only_a = dns.list_record_sets_by_zone(ListRecordSetsByZoneRequest(zone_id=state["private"], type="A"))
    assert [r.id for r in only_a.recordsets] == [a.id], only_a
    shown = dns.show_record_set(ShowRecordSetRequest(zone_id=state["private"], recordset_id=a.id))
    assert shown.name == f"db.{private}", shown
    body = UpdateRecordSetReq(records=["192.168.1.78"], ttl=60)
    u = dns.update_record_set(UpdateRecordSetRequest(zone_id=state["private"], recordset_id=a.id, body=body))
    assert (u.records, u.ttl) == (["192.168.1.78"], 60), u
    soa = [r for r in listed.recordsets if r.type == "SOA"][0]
    refused(lambda: dns.delete_record_set(DeleteRecordSetRequest(zone_id=state["private"], recordset_id=soa.id)), 400)
    dns.delete_record_set(DeleteRecordSetRequest(zone_id=state["private"], recordset_id=a.id))
    refused(lambda: dns.show_record_set(ShowRecordSetRequest(zone_id=state["private"], recordset_id=a.id)), 404)
    dns.delete_private_zone(DeletePrivateZoneRequest(zone_id=state["private"]))
    dns.delete_public_zone(DeletePublicZoneRequest(zone_id=state["public"]))
    refused(lambda: dns.show_private_zone(ShowPrivateZoneRequest(zone_id=state["private"])), 404)


summary("nat-dns")
