"""Checks Nimbus's BSS billing API with the unmodified Huawei Cloud Python SDK
(huaweicloudsdkbss v2), signed with GlobalCredentials as a customer account's user.

Run by a Rust integration test as ``.venv/bin/python tests/clients/huawei_bss_check.py``;
the client is built with ``.with_endpoints([NIMBUS_ENDPOINT])`` only.

Environment: NIMBUS_ENDPOINT, NIMBUS_ACCESS_KEY, NIMBUS_SECRET_KEY, NIMBUS_DOMAIN_ID (the
account), NIMBUS_MONTH (YYYY-MM), NIMBUS_SERVER_ID (a server the account ran that month) and
NIMBUS_SERVER_AMOUNT (its line's amount on the account's invoice, EUR).

The checks (SDK operation names):
  a. ShowCustomerMonthlySum: the ECS sum of the month is the server's amount, in EUR.
  b. ListCustomerselfResourceRecords: the server's record, pay-per-use (charge_mode "3").
  c. ListCustomerBillsFeeRecords: an ECS record in the region, filtered by service type.
  d. ListCustomerselfResourceRecordDetails: the server's monthly record.
  e. Refused with the SDK's ClientRequestException (400): a month that is no month, and a
     month that has not started.
"""

import os
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import check, summary  # noqa: E402

from huaweicloudsdkcore.auth.credentials import GlobalCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # noqa: E402
from huaweicloudsdkbss.v2 import (  # noqa: E402
    BssClient,
    ListCustomerBillsFeeRecordsRequest,
    ListCustomerselfResourceRecordDetailsRequest,
    ListCustomerselfResourceRecordsRequest,
    QueryResRecordsDetailReq,
    ShowCustomerMonthlySumRequest,
)

ENDPOINT = os.environ["NIMBUS_ENDPOINT"]
MONTH = os.environ["NIMBUS_MONTH"]
SERVER = os.environ["NIMBUS_SERVER_ID"]
AMOUNT = Decimal(os.environ["NIMBUS_SERVER_AMOUNT"])

creds = GlobalCredentials(os.environ["NIMBUS_ACCESS_KEY"], os.environ["NIMBUS_SECRET_KEY"], os.environ["NIMBUS_DOMAIN_ID"])
bss = BssClient.new_builder().with_credentials(creds).with_endpoints([ENDPOINT]).build()


def refused(f):
    try:
        f()
    except ClientRequestException as e:
        return e.status_code, e.error_msg
    raise AssertionError("the call succeeded")


@check("a. ShowCustomerMonthlySum gives the month's ECS spending in EUR")
def _():
    r = bss.show_customer_monthly_sum(
        ShowCustomerMonthlySumRequest(bill_cycle=MONTH, service_type_code="hws.service.type.ec2", limit=100))
    assert r.currency == "EUR", r
    ecs = [s for s in r.bill_sums if s.resource_type_code == "hws.resource.type.vm" and s.charging_mode == 3]
    assert len(ecs) == 1, r
    assert Decimal(ecs[0].consume_amount) == AMOUNT, (ecs[0].consume_amount, AMOUNT)
    assert ecs[0].bill_cycle == MONTH


@check("b. ListCustomerselfResourceRecords lists the server, pay-per-use")
def _():
    r = bss.list_customerself_resource_records(
        ListCustomerselfResourceRecordsRequest(cycle=MONTH, include_zero_record=True, limit=100))
    mine = [x for x in r.fee_records if x.resource_id == SERVER]
    assert len(mine) == 1, r
    assert mine[0].charge_mode == "3" and mine[0].cloud_service_type == "hws.service.type.ec2", mine[0]
    assert Decimal(mine[0].amount) == AMOUNT, mine[0]
    assert mine[0].sku_code == "ecs:s3.small.1", mine[0]


@check("c. ListCustomerBillsFeeRecords has the ECS fees of the region")
def _():
    r = bss.list_customer_bills_fee_records(
        ListCustomerBillsFeeRecordsRequest(bill_cycle=MONTH, service_type_code="hws.service.type.ec2", limit=100))
    assert r.total_count >= 1 and r.currency == "EUR", r
    assert all(x.service_type_code == "hws.service.type.ec2" for x in r.records), r
    assert any(x.charging_mode == 3 and Decimal(x.consume_amount) == AMOUNT for x in r.records), r


@check("d. ListCustomerselfResourceRecordDetails has the server's monthly record")
def _():
    r = bss.list_customerself_resource_record_details(ListCustomerselfResourceRecordDetailsRequest(
        body=QueryResRecordsDetailReq(cycle=MONTH, res_instance_id=SERVER, limit=10)))
    assert r.total_count == 1, r
    rec = r.monthly_records[0]
    assert rec.res_instance_id == SERVER and rec.cycle == MONTH, rec
    assert Decimal(rec.consume_amount) == AMOUNT, rec


@check("e. A month that is no month or has not started is refused (400)")
def _():
    status, msg = refused(lambda: bss.show_customer_monthly_sum(ShowCustomerMonthlySumRequest(bill_cycle="2026-13")))
    assert status == 400 and "YYYY-MM" in msg, msg
    status, msg = refused(lambda: bss.show_customer_monthly_sum(ShowCustomerMonthlySumRequest(bill_cycle="2199-01")))
    assert status == 400 and "not started" in msg, msg


summary("bss")
