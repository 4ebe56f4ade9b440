"""The national hub: reference registry, routing and the national person index. It serves nothing to hospitals
or persons.

- Registry: regions and institutions from the hub's database, and one route per province node, written to the
  JetStream KV bucket ``yidi_<fed>_registry`` (``region.<admdvs>``, ``institution.<code>``, ``route.<province>``,
  then ``meta.complete``); every node loads it at start instead of sharing a database.
- Person index: certificate number / person number → insured region, in the hub's database; nodes register their
  persons (``hub.index``) and ask where a person is insured (``hub.locate``). Nothing else of a person is here.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy import or_, select

from yidi.adapters.orm import InstitutionRow, RegionRow
from yidi.adapters.orm_pharmacy import DualChannelDrugRow
from yidi.adapters.orm_fed import PersonIndexRow
from yidi.domain.errors import YidiError
from yidi.federation import messages
from yidi.federation.bridge import Bridge
from yidi.federation.subjects import Names
from yidi.logs import get_logger
from yidi.services.context import AppContext
from yidi.services.reference import mask_certno

log = get_logger("yidi.federation.hub")
COMPLETE_KEY = "meta.complete"  # the registry's last entry: {"entries": how many came before it}


def registry(ctx: AppContext, names: Names) -> dict[str, dict]:
    """The KV entries: every region and institution, and a route for each province-level region."""
    with ctx.unit_of_work() as session:
        regions = [{"admdvs": r.admdvs, "name": r.name, "province": r.province}
                   for r in session.scalars(select(RegionRow))]
        institutions = [{"fixmedins_code": i.fixmedins_code, "name": i.name, "admdvs": i.admdvs, "level": i.level,
                         "networked": i.networked, "kind": i.kind} for i in session.scalars(select(InstitutionRow))]
        # 双通道 designations (B11): the treatment node settles a pharmacy's 特药 and needs them
        dual_channel = [{"fixmedins_code": d.fixmedins_code, "med_list_codg": d.med_list_codg,
                         "begndate": d.begndate.isoformat(), "enddate": d.enddate.isoformat() if d.enddate else None,
                         "source": d.source} for d in session.scalars(select(DualChannelDrugRow))]
    entries = {f"region.{r['admdvs']}": r for r in regions}
    entries |= {f"institution.{i['fixmedins_code']}": i for i in institutions}
    entries |= {f"dual_channel.{d['fixmedins_code']}.{d['med_list_codg']}": d for d in dual_channel}
    for region in regions:
        if region["admdvs"] == region["province"]:
            province = region["admdvs"][:2]
            entries[f"route.{province}"] = {"province": province, "name": region["name"],
                                            "subjects": names.node_prefix(province)}
    return entries


def provinces(ctx: AppContext) -> list[str]:
    """The province codes (two digits) of the registry: one node each."""
    with ctx.unit_of_work() as session:
        return sorted({r.admdvs[:2] for r in session.scalars(select(RegionRow)) if r.admdvs == r.province})


def locate(ctx: AppContext, body: dict) -> dict:
    psn_no, certno = body.get("psn_no"), (body.get("certno") or "").strip().upper() or None
    with ctx.unit_of_work() as session:
        row = session.scalars(select(PersonIndexRow).where(or_(PersonIndexRow.psn_no == psn_no,
                                                               PersonIndexRow.certno == certno))).first()
    if row is None:
        raise YidiError("UNKNOWN_PERSON", {"key": psn_no or mask_certno(certno or "")})
    return {"insuplc_admdvs": row.insuplc_admdvs}


def index(ctx: AppContext, body: dict) -> dict:
    with ctx.unit_of_work() as session:
        for person in body["persons"]:
            session.merge(PersonIndexRow(certno=person["certno"], psn_no=person["psn_no"],
                                         insuplc_admdvs=person["insuplc_admdvs"]))
    return {"indexed": len(body["persons"])}


def _answer(ctx: AppContext, handler, body: dict) -> dict:
    try:
        return handler(ctx, body)
    except YidiError as exc:
        return messages.refusal(exc)
    except Exception:  # noqa: BLE001 - a node gets a coded answer, never silence
        log.exception("federation.hub_fault")
        return messages.refusal(YidiError("SERVICE_UNAVAILABLE", {"detail": "中心节点故障"}))


class Hub:
    def __init__(self, ctx: AppContext, bridge: Bridge, names: Names):
        self.ctx = ctx
        self.bridge = bridge
        self.names = names

    def start(self) -> "Hub":
        entries = registry(self.ctx, self.names)
        # written last: a node that reads the bucket while the hub is still writing it waits for this key
        entries[COMPLETE_KEY] = {"entries": len(entries)}
        self.bridge.kv_put_all(self.names.registry_bucket, entries)
        for op, handler in (("locate", locate), ("index", index)):
            self.bridge.serve(self.names.hub(op), partial(_answer, self.ctx, handler), queue="hub")
        # national 清分: both sides' settlement events, consumed durably (federation/hub_clearing.py)
        from yidi.federation import fed_verify, hub_api, hub_clearing

        self.clearing = hub_clearing.EventConsumer(self.ctx, self.bridge, self.names).start()
        fed_verify.serve(self.bridge, self.names.hub, fed_verify.hub_handlers(self.ctx, self.clearing)
                         | hub_api.handlers(self.ctx, self.clearing), queue="hub")
        return self

    def stop(self) -> None:
        if getattr(self, "clearing", None) is not None:
            self.clearing.stop()
