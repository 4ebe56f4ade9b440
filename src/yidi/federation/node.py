"""A province node: its own database, its hospitals and insured persons, and a NATS link to the rest.

``Node.start`` loads the reference registry (regions, institutions, routes) from the hub's JetStream KV bucket into
the node's database, serves the insured-side subjects for its province (``federation.insured``), tells the hub's
person index which persons are insured here, and sets ``ctx.federation`` to a ``NodeLink``: from then on the
services reach a person insured in another province through ``RemoteInsuredSide`` (the port in
services/insured_side.py), while intra-province business never leaves the node.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import date
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from yidi.adapters.orm import CredentialRow, InstitutionRow, PersonRow, RegionRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.adapters.orm_pharmacy import DualChannelDrugRow
from yidi.domain.errors import YidiError
from yidi.domain.money import yuan_to_fen
from yidi.federation import events, fed_verify, insured, messages
from yidi.federation.hub import COMPLETE_KEY
from yidi.federation.bridge import Bridge, Disconnected, NoResponder
from yidi.federation.deferred import DeferredQueue
from yidi.federation.subjects import Names
from yidi.services.context import AppContext
from yidi.services.insured_side import person_region
from yidi.services.reference import mask_certno
from yidi.services.settlements import SettleCommand, SettlementView

class RegistryNotReady(Exception):
    """The hub has not (completely) written the registry yet."""


DEFAULT_TIMEOUT = 10.0  # seconds a treatment node waits for the insured node (then: SERVICE_UNAVAILABLE);
# `yidi node serve` takes it from the setting YIDI_FEDERATION_TIMEOUT_SECONDS (or --timeout)
CLAIM_FILES_TTL = 24 * 3600.0  # seconds a claim's files may wait in the object store (the insured node removes them)


def nats_down() -> YidiError:
    return YidiError("NATS_UNAVAILABLE", {"detail": "跨省业务暂不可用，连接恢复后用同一 msgid 重发即可"})


def insured_unreachable(province: str, detail: str) -> YidiError:
    """SERVICE_UNAVAILABLE marked with the insured province: a 2304/2207 that gets it may be queued in the deferred
    work queue (federation/deferred.py) and settled when that node is back."""
    error = YidiError("SERVICE_UNAVAILABLE", {"detail": f"参保地 {province}0000 {detail}"})
    error.insured_province = province
    return error


class NodeLink:
    """``ctx.federation`` on a province node: routing, the person index, and the insured side of other provinces."""

    def __init__(self, province: str, bridge: Bridge, names: Names, routes: dict[str, dict], *,
                 timeout: float = DEFAULT_TIMEOUT):
        self.province = province
        self.bridge = bridge
        self.names = names
        self.routes = routes  # province → route (from the hub's registry)
        self.timeout = timeout
        self.remote = RemoteInsuredSide(self)
        self.deferred: DeferredQueue | None = None  # the JetStream work queue of 2304/2207 (services/ops.py)

    def owns(self, admdvs: str) -> bool:
        return admdvs[:2] == self.province

    def ask(self, admdvs: str, op: str, body: dict) -> dict:
        """Request ``op`` of the node that insures ``admdvs``; its refusal is raised here as the same error."""
        province = admdvs[:2]
        route = self.routes.get(province)
        if route is None:
            raise YidiError("SERVICE_UNAVAILABLE", {"detail": f"参保地 {admdvs} 未接入异地结算联邦"})
        try:
            answer = self.bridge.request(f"{route['subjects']}.{op}", body, timeout=self.timeout)
        except Disconnected:
            raise nats_down() from None
        except NoResponder as exc:
            why = f"{self.timeout:g} 秒内无应答" if exc.timed_out else "节点未运行"
            raise insured_unreachable(province, why) from None
        return messages.raise_refusal(answer)

    def locate(self, *, psn_no: str | None = None, certno: str | None = None) -> str:
        """The person's insured region, from the hub's national person index."""
        try:
            answer = self.bridge.request(self.names.hub("locate"), {"psn_no": psn_no, "certno": certno},
                                         timeout=self.timeout)
        except Disconnected:
            raise nats_down() from None
        except NoResponder:
            raise YidiError("SERVICE_UNAVAILABLE", {"detail": "全国人员索引（中心节点）无应答"}) from None
        return messages.raise_refusal(answer)["insuplc_admdvs"]

    def hub_cleared(self, month: str) -> bool:
        """Whether the hub has made the national 清分 of ``month`` (3260's clr_stas, 3262's refusal)."""
        try:
            answer = self.bridge.request(self.names.hub("clearing_state"), {"month": month}, timeout=self.timeout)
        except NoResponder:
            raise YidiError("SERVICE_UNAVAILABLE", {"detail": "中心节点无应答，无法确认清分状态"}) from None
        return bool(messages.raise_refusal(answer)["cleared"])

    # ---------------------------------------------------------- the treatment side's records --
    def treatment_record(self, session: Session, setl_id: str, *, for_update: bool = False):
        stmt = select(TreatmentSettlementRow).where(TreatmentSettlementRow.setl_id == setl_id)
        return session.scalars(stmt.with_for_update() if for_update else stmt).first()

    def treatment_paid_of_visit(self, session: Session, mdtrt_id: str):
        return session.scalars(select(TreatmentSettlementRow).where(TreatmentSettlementRow.mdtrt_id == mdtrt_id,
                                                                    TreatmentSettlementRow.status == "settled")).first()

    def admit_visitor(self, session: Session, psn_no: str) -> bool:
        """2401/2201 for a person this node does not hold: fetch the desk's copy from their insured node.
        False when the index does not know them (the caller then answers UNKNOWN_PERSON as on one node) or when
        the person is already here (then the visit was refused for another reason, e.g. the insurance type)."""
        if session.get(PersonRow, psn_no) is not None:
            return False
        try:
            region = self.locate(psn_no=psn_no)
        except YidiError as exc:
            if exc.code == "UNKNOWN_PERSON":
                return False
            raise
        if self.owns(region):
            return False
        person = self.ask(region, "person", {"psn_no": psn_no})["person"]
        session.merge(PersonRow(**person))
        session.flush()
        return True


def _record_treatment_side(session: Session, answer: dict, *, request_id: str, psn_no: str, insuplc_admdvs: str,
                           fixmedins_code: str, mdtrt_id: str | None, med_type: str, begntime: date, endtime: date,
                           setl_date: date, status: str | None = None, cancelled_on: date | None = None) -> None:
    """This node's record of a settlement the insured node made (``answer`` = its settle answer): what the hospital
    is owed, in the caller's transaction."""
    fields = answer["fields"]
    institution = session.get(InstitutionRow, fixmedins_code)
    session.add(TreatmentSettlementRow(
        setl_id=answer["setl_id"], request_id=request_id, kind=answer["kind"], status=status or answer["status"],
        psn_no=psn_no, insuplc_admdvs=insuplc_admdvs, insutype=answer["person"]["insutype"],
        fixmedins_code=fixmedins_code, mdtrtarea_admvs=institution.admdvs, mdtrt_id=mdtrt_id, med_type=med_type,
        begntime=begntime, endtime=endtime, setl_date=setl_date,
        medfee_sumamt=yuan_to_fen(fields["medfee_sumamt"]), fund_pay_sumamt=yuan_to_fen(fields["fund_pay_sumamt"]),
        psn_part_amt=yuan_to_fen(fields["psn_part_amt"]), hifp_pay=yuan_to_fen(fields["hifp_pay"]),
        acct_pay=yuan_to_fen(fields.get("acct_pay", "0.00")), answer=fields, cancelled_on=cancelled_on))
    session.flush()


class RemoteInsuredSide:
    """services.insured_side.InsuredSide for a person insured on another node: a NATS request to that node."""

    def __init__(self, link: NodeLink):
        self.link = link

    def identify(self, ctx: AppContext, certno: str):
        try:
            region = self.link.locate(certno=certno)
        except YidiError as exc:
            if exc.code == "UNKNOWN_PERSON":  # the same key as on one node: the masked number
                raise YidiError("UNKNOWN_PERSON", {"key": mask_certno(certno)}) from None
            raise
        answer = self.link.ask(region, "identify", {"certno": certno})
        return messages.decode_person(answer["person"]), [messages.decode_filing(f) for f in answer["filings"]]

    def presettle(self, ctx: AppContext, cmd: SettleCommand, person):
        answer = self.link.ask(person.insuplc_admdvs, "presettle", {"cmd": messages.encode_command(cmd)})
        return answer["fields"], messages.decode_person(answer["person"])

    def settle(self, ctx: AppContext, cmd: SettleCommand, person):
        """The insured node settles and records its side; then this node records its side in the caller's
        transaction. The hospital's msgid is the request id (a run without one, e.g. a scenario, makes one)."""
        request_id = cmd.msgid or f"FED{uuid.uuid4().hex[:24].upper()}"
        answer = self.link.ask(person.insuplc_admdvs, "settle",
                               {"request_id": request_id, "cmd": messages.encode_command(cmd)})
        fields = answer["fields"]
        if "after_insured_commit" in ctx.hooks:  # fault seam (tests): this node dies between the two commits
            ctx.hooks["after_insured_commit"](answer)
        with ctx.unit_of_work() as session:
            _record_treatment_side(session, answer, request_id=request_id, psn_no=cmd.psn_no,
                                   insuplc_admdvs=person.insuplc_admdvs, fixmedins_code=cmd.fixmedins_code,
                                   mdtrt_id=cmd.mdtrt_id, med_type=cmd.med_type, begntime=cmd.begntime,
                                   endtime=cmd.endtime,
                                   setl_date=date.fromisoformat(answer["setl_date"]) if answer.get("setl_date")
                                   else (cmd.setl_date or date.today()))
            events.record(session, events.TREATMENT, self.link.treatment_record(session, answer["setl_id"]))
        view = SettlementView(setl_id=answer["setl_id"], status=answer["status"], kind=answer["kind"],
                              psn_no=cmd.psn_no, fixmedins_code=cmd.fixmedins_code, med_type=cmd.med_type,
                              begntime=cmd.begntime, endtime=cmd.endtime, result=None, row_fields=fields)
        return view, messages.decode_person(answer["person"])

    def cancel(self, ctx: AppContext, record, *, on: date | None, reversal: bool, actor: str) -> None:
        """Reverse at the insured node, then mark this node's record (the caller's transaction commits it).
        One reversal per settlement: its request id is derived from the settlement id."""
        if record.status != "settled":
            raise YidiError("SETTLEMENT_ALREADY_CANCELLED", {"setl_id": record.setl_id})
        answer = self.link.ask(record.insuplc_admdvs, "cancel", {
            "request_id": f"X{record.setl_id}", "setl_id": record.setl_id, "on": on.isoformat() if on else None,
            "reversal": reversal, "actor": actor, "fixmedins_code": record.fixmedins_code})
        record.status, record.cancelled_on = answer["status"], date.fromisoformat(answer["cancelled_on"])
        events.record(object_session(record), events.TREATMENT, record)  # in the caller's transaction

    def submit_claim(self, ctx: AppContext, cmd, region: str):
        """A manual claim for a person insured on another node: its files go to the federation's object store,
        the claim to the insured node (``node.NN.claim``), which stores it in its agency's queue and answers the
        stored claim. The request id makes a resend of the same request harmless."""
        request_id = f"LBR{uuid.uuid4().hex[:24].upper()}"
        files = []
        try:
            for index, attachment in enumerate(cmd.attachments):
                name = f"{request_id}.{index}"
                self.link.bridge.object_put(self.link.names.claim_files_bucket, name, attachment.content,
                                            ttl=CLAIM_FILES_TTL)
                files.append({"object": name, "sha256": hashlib.sha256(attachment.content).hexdigest(),
                              "kind": attachment.kind, "filename": attachment.filename,
                              "content_type": attachment.content_type})
        except Exception:  # noqa: BLE001 - NATS or JetStream down: a coded answer, nothing stored anywhere
            raise YidiError("SERVICE_UNAVAILABLE", {"detail": "零星报销附件无法送达参保地（消息服务不可用）"}) from None
        answer = self.link.ask(region, "claim", {"request_id": request_id,
                                                 "cmd": messages.encode_claim_command(cmd, files)})
        return messages.decode_claim(answer["claim"])

    def reverse_unrecorded(self, ctx: AppContext, *, omsgid: str, psn_no: str, fixmedins_code: str,
                           actor: str) -> str | None:
        """2601 of a 2304/2207 this node never recorded (e.g. it died between the insured node's commit and its
        own): the insured node reverses what it holds under that msgid, or tombstones the msgid so that a late copy
        cannot settle; when it held a settlement this node records its side, reversed, so both sides agree.
        The insured node is the person's (``psn_no``, when the HIS sends it) or else every other node is asked.
        Returns "reversed", "never_processed", or None when the person is insured on this node (nothing to ask)."""
        if psn_no:
            with ctx.unit_of_work() as session:
                region = person_region(ctx, session, psn_no)
            if self.link.owns(region):
                return None
            provinces = [region[:2]]
        else:
            provinces = sorted(p for p in self.link.routes if p != self.link.province)
        outcome = "never_processed"
        for province in provinces:
            answer = self.link.ask(f"{province}0000", "reverse",
                                   {"request_id": omsgid, "fixmedins_code": fixmedins_code, "actor": actor})
            if answer["rslt"] != "reversed":
                continue
            held = answer["settlement"]
            with ctx.unit_of_work() as session:
                if self.link.treatment_record(session, held["setl_id"]) is None:
                    _record_treatment_side(
                        session, answer["answer"], request_id=omsgid, psn_no=held["psn_no"],
                        insuplc_admdvs=held["insuplc_admdvs"], fixmedins_code=held["fixmedins_code"],
                        mdtrt_id=held["mdtrt_id"], med_type=held["med_type"],
                        begntime=date.fromisoformat(held["begntime"]), endtime=date.fromisoformat(held["endtime"]),
                        setl_date=date.fromisoformat(held["setl_date"]), status=held["status"],
                        cancelled_on=date.fromisoformat(held["cancelled_on"]))
                    events.record(session, events.TREATMENT, self.link.treatment_record(session, held["setl_id"]))
            outcome = "reversed"
        return outcome


class Node:
    def __init__(self, province: str, ctx: AppContext, bridge: Bridge, names: Names, *,
                 timeout: float = DEFAULT_TIMEOUT, deferred: bool = True):
        self.province = province
        self.ctx = ctx
        self.bridge = bridge
        self.names = names
        self.timeout = timeout
        self.deferred = deferred  # run the JetStream deferred queue (I2); the scenario runner does without

    def start(self) -> "Node":
        routes = self.load_registry()
        link = NodeLink(self.province, self.bridge, self.names, routes, timeout=self.timeout)
        if self.deferred:  # its consumer drains what an earlier run of this node queued
            link.deferred = DeferredQueue(self.ctx, self.bridge, self.names, self.province,
                                          ack_wait=self.timeout + 50).start()
        self.ctx.federation = link
        for op in insured.HANDLERS:
            self.bridge.serve(self.names.node(self.province, op), partial(insured.answer, self.ctx, op),
                              queue=f"node-{self.province}")
        fed_verify.serve(self.bridge, partial(self.names.node, self.province),
                         fed_verify.node_handlers(self.ctx, self.province), queue=f"node-{self.province}")
        self.publisher = events.OutboxPublisher(self.ctx, self.bridge, self.names).start()
        return self

    def stop(self) -> None:
        """Stop publishing events (what is unsent stays in the outbox for the next start)."""
        if getattr(self, "publisher", None) is not None:
            self.publisher.stop()

    def load_registry(self, wait_seconds: float = 30.0) -> dict[str, dict]:
        """Regions and institutions from the hub's KV bucket into this node's database; the routes. Waits (up to
        ``wait_seconds``) while the registry is not there whole: the hub may still be writing it."""
        deadline = time.monotonic() + wait_seconds
        while True:
            items = self.bridge.kv_items(self.names.registry_bucket)
            complete = items.pop(COMPLETE_KEY, None)
            if complete is not None and complete["entries"] == len(items):
                break
            if time.monotonic() > deadline:
                raise RegistryNotReady(f"{self.names.registry_bucket}: {len(items)} entries, the hub is still writing")
            time.sleep(0.2)
        with self.ctx.unit_of_work() as session:
            for key, value in items.items():  # regions first: institutions refer to them
                if key.startswith("region."):
                    session.merge(RegionRow(**value))
            session.flush()
            for key, value in items.items():
                if key.startswith("institution."):
                    session.merge(InstitutionRow(**value))
            session.flush()
            for key, value in items.items():
                if key.startswith("dual_channel."):  # B11 双通道 designations (dates as ISO text in the KV)
                    session.merge(DualChannelDrugRow(**value | {
                        "begndate": date.fromisoformat(value["begndate"]),
                        "enddate": date.fromisoformat(value["enddate"]) if value.get("enddate") else None}))
        return {key.split(".", 1)[1]: value for key, value in items.items() if key.startswith("route.")}

    def add_demo_credentials(self) -> None:
        """Demo access keys (demo-<code> / demo-secret-<code>) for this node's own hospitals only."""
        with self.ctx.unit_of_work() as session:
            for code, admdvs in session.execute(select(InstitutionRow.fixmedins_code, InstitutionRow.admdvs)).all():
                if self.owns(admdvs):
                    session.merge(CredentialRow(access_key=f"demo-{code}", fixmedins_code=code,
                                                secret=f"demo-secret-{code}", algorithm="HMAC-SM3", demo_only=True))

    def index_persons(self) -> int:
        """Tell the hub's person index who is insured here (certificate number, person number, region)."""
        with self.ctx.unit_of_work() as session:
            rows = session.execute(select(PersonRow.certno, PersonRow.psn_no, PersonRow.insuplc_admdvs)).all()
        persons = [{"certno": c, "psn_no": p, "insuplc_admdvs": r} for c, p, r in rows if self.owns(r)]
        messages.raise_refusal(self.bridge.request(self.names.hub("index"), {"persons": persons},
                                                   timeout=self.timeout))
        return len(persons)

    def owns(self, admdvs: str) -> bool:
        return admdvs[:2] == self.province
