"""Monthly clearing across nodes (issue 17; C1–C4): both sides' settlement events through JetStream, the hub's
清分 per province pair, the treatment side's 3260–3262, and `yidi verify --federation`'s two-sided comparison.
Real NATS (JetStream stream + durable pull consumer), one SQLite database per node and for the hub.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.api.test_fsi_support import file_filing, ok
from tests.federation.test_cross_province import ZHANG_CERT, _admit_and_upload, beijing_his  # noqa: F401 - fixture
from yidi.adapters.orm import PersonRow, SettlementRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.adapters.orm_fedclear import EventOutboxRow, HubEventRow, HubSettlementRow
from yidi.domain.catalog import FeeItem
from yidi.domain.errors import YidiError
from yidi.federation import events, hub_clearing
from yidi.federation.fed_verify import verify_federation
from yidi.services import treatment_entry
from yidi.services.settlements import SettleCommand


def _settle_visit(federation, province: str, code: str, *, day: date, fen: int = 800_000, msgid: str | None = None,
                  psn_no: str = "P001"):
    """A cross-province inpatient settlement of 张三 (焦作, filed for 北京; 李四 P002 for 上海) entered at
    ``province``'s node, dated ``day``."""
    cmd = SettleCommand(psn_no=psn_no, fixmedins_code=code, med_type="21", begntime=day - timedelta(days=3),
                        endtime=day - timedelta(days=1), items=(FeeItem("X007", fen),), setl_date=day, msgid=msgid)
    return treatment_entry.settle(federation.nodes[province].ctx, cmd)


def _deliver(federation) -> None:
    """Every node publishes what its outbox holds; the hub has applied and acknowledged all of it."""
    for node in federation.nodes.values():
        while node.publisher.publish_pending():
            pass
    assert federation.hub.clearing.wait_caught_up(timeout=30)


def _count(ctx, row_type, *where) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(row_type).where(*where))


@pytest.fixture
def zhang(federation):
    henan = federation.nodes["41"]
    with henan.ctx.unit_of_work() as session:
        session.add(PersonRow(psn_no="P001", name="张三", certno=ZHANG_CERT, insuplc_admdvs="410800", insutype="310"))
        session.add(PersonRow(psn_no="P002", name="李四", certno="410802196001011235", insuplc_admdvs="410800",
                              insutype="310"))
    henan.index_persons()
    file_filing(henan.ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    file_filing(henan.ctx, "P002", "retired_relocated", "310000", "2023-01-10", "李四")
    return federation


def test_c2_hub_clears_a_month_per_province_pair_from_both_sides_events(zhang):
    federation, hub = zhang, zhang.hub.ctx
    beijing = _settle_visit(federation, "11", "H11000000001", day=date(2025, 11, 6))
    shanghai = _settle_visit(federation, "31", "H31000000001", day=date(2025, 11, 8), fen=300_000, psn_no="P002")
    dropped = _settle_visit(federation, "11", "H11000000001", day=date(2025, 11, 20), fen=100_000)
    treatment_entry.cancel(federation.nodes["11"].ctx, dropped.setl_id, date(2025, 11, 21), actor="clerk")
    _deliver(federation)

    # both sides' events are at the hub: 3 settlements × 2 sides, the cancelled one in its final state
    assert _count(hub, HubSettlementRow) == 6
    assert _count(hub, HubSettlementRow, HubSettlementRow.status == "cancelled") == 2
    assert _count(hub, HubEventRow) == 8  # 3 settled + 1 cancelled, per side

    with pytest.raises(YidiError) as month_open:
        hub_clearing.clear(hub, "2025-11", today=date(2025, 11, 30), consumer=federation.hub.clearing)
    assert month_open.value.code == "CLEARING_MONTH_OPEN"
    statement = hub_clearing.clear(hub, "2025-11", today=date(2025, 12, 1), consumer=federation.hub.clearing)
    with federation.nodes["41"].ctx.unit_of_work() as session:
        fund = {row.setl_id: row.fund_pay_sumamt for row in session.scalars(select(SettlementRow))}
    pairs = {(t.from_province, t.to_province): (t.count, t.net_fen) for t in statement.transfers}
    assert pairs == {("410000", "110000"): (1, fund[beijing.setl_id]),
                     ("410000", "310000"): (1, fund[shanghai.setl_id])}
    assert not statement.replayed
    again = hub_clearing.clear(hub, "2025-11", today=date(2025, 12, 1))
    assert again.replayed and [t.net_fen for t in again.transfers] == [t.net_fen for t in statement.transfers]


def test_c2_events_are_applied_once_when_republished_and_redelivered(zhang):
    """A node that died after JetStream's ack but before marking its outbox publishes again; the stream's
    duplicate window drops it, and a redelivery past the window is dropped by the hub's event ids."""
    federation, hub = zhang, zhang.hub.ctx
    _settle_visit(federation, "11", "H11000000001", day=date(2025, 11, 6))
    _deliver(federation)
    before = (_count(hub, HubEventRow), _count(hub, HubSettlementRow))
    for node in federation.nodes.values():  # as if nothing had been marked sent
        with node.ctx.unit_of_work() as session:
            session.execute(update(EventOutboxRow).values(sent_at=None))
    _deliver(federation)
    assert (_count(hub, HubEventRow), _count(hub, HubSettlementRow)) == before
    # past the duplicate window: the same events applied again change nothing at the hub
    with hub.unit_of_work() as session:
        stored = [(row.event_id, row.stream_seq) for row in session.scalars(select(HubEventRow))]
    with federation.nodes["41"].ctx.unit_of_work() as session:
        payloads = {row.event_id: row.payload for row in session.scalars(select(EventOutboxRow))}
    assert hub_clearing.apply_events(hub, [(event_id, seq, payloads[event_id]) for event_id, seq in stored
                                           if event_id in payloads]) == 0
    assert (_count(hub, HubEventRow), _count(hub, HubSettlementRow)) == before


def test_c2_an_event_is_written_with_the_settlement_and_waits_while_nats_is_unusable(zhang):
    """The outbox row commits with the business write: while it cannot be published it waits, and goes out later."""
    federation = zhang
    federation.nodes["11"].stop()  # the treatment node's publisher is not running
    view = _settle_visit(federation, "11", "H11000000001", day=date(2025, 11, 6))
    beijing = federation.nodes["11"].ctx
    assert _count(beijing, EventOutboxRow, EventOutboxRow.sent_at.is_(None),
                  EventOutboxRow.event_id == f"treatment:{view.setl_id}:settled") == 1
    assert federation.hub.clearing.wait_caught_up(timeout=30)
    assert _count(federation.hub.ctx, HubSettlementRow, HubSettlementRow.side == "treatment") == 0
    _deliver(federation)
    assert _count(federation.hub.ctx, HubSettlementRow, HubSettlementRow.side == "treatment") == 1
    assert _count(beijing, EventOutboxRow, EventOutboxRow.sent_at.is_(None)) == 0


def test_c2_hub_refuses_to_clear_while_the_sides_differ_unless_accepted(zhang):
    federation, hub = zhang, zhang.hub.ctx
    view = _settle_visit(federation, "11", "H11000000001", day=date(2025, 11, 6))
    _deliver(federation)
    with hub.unit_of_work() as session:  # the treatment side's event never came
        session.execute(HubSettlementRow.__table__.delete().where(HubSettlementRow.side == "treatment"))
    with pytest.raises(YidiError) as refused:
        hub_clearing.clear(hub, "2025-11", today=date(2025, 12, 1))
    assert refused.value.code == "CLEARING_SIDES_DIFFER" and "410800→110000" in refused.value.params["detail"]
    statement = hub_clearing.clear(hub, "2025-11", today=date(2025, 12, 1), accept_differences=True)
    assert [t.count for t in statement.transfers] == [1] and view.setl_id


def test_c4_verify_federation_is_green_then_lists_an_injected_difference_with_its_msgid(zhang):
    federation = zhang
    kept = _settle_visit(federation, "11", "H11000000001", day=date(2025, 11, 6), msgid="MSG-KEPT-0001")
    changed = _settle_visit(federation, "11", "H11000000001", day=date(2025, 11, 9), msgid="MSG-CHANGED-0002")
    _deliver(federation)
    provinces = sorted(federation.nodes)
    report = verify_federation(federation.hub.bridge, federation.names, provinces)
    assert report.ok, report.problems
    assert report.pairs["2025-11|410000|110000"]["treatment_node"]["settled"] == 2
    assert all(part.get("checks") for part in report.parts.values())

    # the treatment node's record of one settlement says another amount than the insured node's
    with federation.nodes["11"].ctx.unit_of_work() as session:
        session.execute(update(TreatmentSettlementRow).where(TreatmentSettlementRow.setl_id == changed.setl_id)
                        .values(fund_pay_sumamt=TreatmentSettlementRow.fund_pay_sumamt - 100))
    report = verify_federation(federation.hub.bridge, federation.names, provinces)
    assert not report.ok
    assert [(d["key"], d["setl_id"], d["msgid"]) for d in report.differences] == \
        [("2025-11|410000|110000", changed.setl_id, "MSG-CHANGED-0002")]
    listed = "\n".join(report.problems)
    assert "2025-11 410000→110000" in listed and changed.setl_id in listed and "MSG-CHANGED-0002" in listed
    assert kept.setl_id not in listed


def test_c4_verify_federation_lists_a_settlement_the_hub_never_received(zhang):
    federation = zhang
    view = _settle_visit(federation, "31", "H31000000001", day=date(2025, 10, 6), msgid="MSG-LOST-0003", psn_no="P002")
    _deliver(federation)
    with federation.hub.ctx.unit_of_work() as session:
        session.execute(HubSettlementRow.__table__.delete().where(HubSettlementRow.side == "insured"))
    report = verify_federation(federation.hub.bridge, federation.names, sorted(federation.nodes))
    assert [(d["setl_id"], d["msgid"], d["views"]["hub_insured"]) for d in report.differences] == \
        [(view.setl_id, "MSG-LOST-0003", None)]


def test_c2_treatment_side_fetches_confirms_and_rolls_back_its_qingfen_until_the_hub_clears(federation, beijing_his):
    """3260/3261/3262 at the 北京 node for a 焦作 person: its side's records, the month's state from the hub."""
    mdtrt_id = _admit_and_upload(beijing_his)
    setl = ok(beijing_his.settle_inpatient(mdtrt_id, "P001", medfee_sumamt=12000, endtime="2023-03-10"))["setlinfo"]
    today = date.today()
    clr_ym = today.strftime("%Y%m")
    fetched = ok(beijing_his.call("3260", {"data": {"clr_ym": clr_ym}}))
    assert [(row["setl_id"], row["cnfm_flag"], row["clr_amt"]) for row in fetched["data"]] == \
        [(setl["setl_id"], "0", 9435.0)]
    assert fetched["clr_stas"] == "0"
    assert ok(beijing_his.call("3261", {"data": {"clr_ym": clr_ym}}))["result"]["cnfm_cnt"] == 1
    assert ok(beijing_his.call("3262", {"data": {"clr_ym": clr_ym}}))["result"]["rollback_cnt"] == 1
    ok(beijing_his.call("3261", {"data": {"clr_ym": clr_ym}}))

    _deliver(federation)
    following = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    hub_clearing.clear(federation.hub.ctx, today.strftime("%Y-%m"), today=following)
    assert ok(beijing_his.call("3260", {"data": {"clr_ym": clr_ym}}))["clr_stas"] == "1"
    refused = beijing_his.call("3262", {"data": {"clr_ym": clr_ym}})
    assert refused["infcode"] == -1 and "已完成清分" in refused["err_msg"]


def test_c1_hub_prepayment_per_province_pair_from_q4_events(zhang):
    federation, hub = zhang, zhang.hub.ctx
    view = _settle_visit(federation, "11", "H11000000001", day=date(2024, 11, 6))
    _deliver(federation)
    with federation.nodes["41"].ctx.unit_of_work() as session:
        fund = session.get(SettlementRow, view.setl_id).fund_pay_sumamt
    lines = hub_clearing.prepayment_plan(hub, 2025)
    assert [(line.payer_admdvs, line.payee_admdvs, line.q4_count, line.q4_total_fen) for line in lines] == \
        [("410000", "110000", 1, fund)]
    assert lines[0].amount_fen == round(2 * fund / 3)
    confirmed = hub_clearing.confirm_prepayment(hub, 2025, actor="national")
    assert confirmed[0].confirmed and hub_clearing.prepayment_plan(hub, 2025)[0].confirmed
    assert events.stream_name(federation.names).startswith("YIDI_")


def test_c4_cli_verify_federation_and_hub_clear(zhang, tmp_path, monkeypatch, nats_url):
    """`yidi verify --federation ID` over NATS (exit 0 green, 1 with the difference and its msgid) and
    `yidi hub clear --month` on the hub's database."""
    import json

    from typer.testing import CliRunner

    from yidi.cli import app

    federation = zhang
    monkeypatch.setenv("YIDI_NATS_URL", nats_url)
    view = _settle_visit(federation, "11", "H11000000001", day=date(2025, 11, 6), msgid="MSG-CLI-0004")
    _deliver(federation)
    runner = CliRunner()
    green = runner.invoke(app, ["verify", "--federation", federation.names.federation, "--json"])
    assert green.exit_code == 0, green.output
    assert json.loads(green.stdout)["ok"] is True
    cleared = runner.invoke(app, ["hub", "clear", "--month", "2025-11", "--database-url",
                                  f"sqlite:///{tmp_path}/hub.db", "--federation", federation.names.federation,
                                  "--json"])
    assert cleared.exit_code == 0, cleared.output
    assert [(t["from_province"], t["to_province"], t["count"]) for t in json.loads(cleared.stdout)["province_transfers"]] \
        == [("410000", "110000", 1)]
    with federation.nodes["41"].ctx.unit_of_work() as session:  # the insured node's record says otherwise
        session.execute(update(SettlementRow).where(SettlementRow.setl_id == view.setl_id)
                        .values(fund_pay_sumamt=SettlementRow.fund_pay_sumamt + 1))
    red = runner.invoke(app, ["verify", "--federation", federation.names.federation])
    assert red.exit_code == 1
    assert "MSG-CLI-0004" in red.output and view.setl_id in red.output


def test_c2_node_funds_api_reads_the_hubs_statement_scoped_to_the_reader(zhang):
    import httpx

    from tests.support.live_server import live_server
    from yidi.api.app import create_app
    from yidi.services.users import create_user

    federation = zhang
    _settle_visit(federation, "11", "H11000000001", day=date(2025, 11, 6))
    _settle_visit(federation, "31", "H31000000001", day=date(2025, 11, 8), fen=300_000, psn_no="P002")
    _deliver(federation)
    beijing = federation.nodes["11"].ctx
    create_user(beijing, username="bj-agency", password="pw-bj", role="agency", admdvs="110000")
    with live_server(create_app(beijing)) as base, \
            httpx.Client(base_url=base, timeout=30, auth=("bj-agency", "pw-bj")) as client:
        missing = client.get("/api/funds/federation/clearing/2025-11")
        assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
        hub_clearing.clear(federation.hub.ctx, "2025-11", today=date(2025, 12, 1))
        body = client.get("/api/funds/federation/clearing/2025-11").json()
    # the 北京 agency sees the flow it receives, not 上海's, and no national totals
    assert [(f["insuplc_admdvs"], f["mdtrtarea_admvs"]) for f in body["flows"]] == [("410800", "110000")]
    assert "province_transfers" not in body
