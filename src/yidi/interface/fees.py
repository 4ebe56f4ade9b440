"""Fee details: 2204 / 2301 上传 (each row split, S1) and 2205 / 2302 撤销 (services/visits.py)."""

from __future__ import annotations

from yidi.domain.errors import YidiError, invalid
from yidi.interface.envelope import Call
from yidi.interface.fields import Fields, section
from yidi.interface.output import fee_row
from yidi.services import visits
from yidi.services.context import AppContext


def _fee_lines(call: Call) -> tuple[str, list[visits.FeeLine]]:
    if not isinstance(call.input, dict) or "feedetail" not in call.input:
        raise invalid("feedetail", "缺少该字段")
    raw = call.input["feedetail"]
    if isinstance(raw, list) and len(raw) > visits.MAX_ROWS_PER_UPLOAD:
        raise YidiError("TOO_MANY_ROWS", {"rows": len(raw), "limit": visits.MAX_ROWS_PER_UPLOAD})
    rows = Fields(call.input, "").rows("feedetail")
    if not rows:
        raise invalid("feedetail", "没有费用明细")
    mdtrt_id = None
    lines = []
    for row in rows:
        row_mdtrt = row.text("mdtrt_id", max_len=40)
        if mdtrt_id is not None and row_mdtrt != mdtrt_id:
            raise invalid(row.name("mdtrt_id"), "一次上传只能属于同一就诊")
        mdtrt_id = row_mdtrt
        amount = row.money("det_item_fee_sumamt")
        cnt = row.decimal("cnt", places=4)
        pric = row.decimal("pric", required=False, places=6)
        init_sn = row.text("init_feedetl_sn", required=False, max_len=40)
        if abs(amount) > visits.MAX_ROW_FEN:
            raise invalid(row.name("det_item_fee_sumamt"), "金额超出合理范围")
        if cnt == 0 and amount != 0:
            raise invalid(row.name("cnt"), "数量为 0 但金额不为 0")
        if (amount < 0 or cnt < 0) and not init_sn:
            raise invalid(row.name("det_item_fee_sumamt"), "负数明细（退费）须填写 init_feedetl_sn 指明原明细")
        if amount * cnt < 0:
            raise invalid(row.name("cnt"), "数量与金额的正负不一致")
        if init_sn and amount > 0:
            raise invalid(row.name("det_item_fee_sumamt"), "退费明细的数量和金额应为负数")
        if pric is not None:
            if pric < 0:
                raise invalid(row.name("pric"), "单价不能为负数")
            expected = (cnt * pric * 100).quantize(1, rounding="ROUND_HALF_UP")
            if expected != amount:
                raise invalid(row.name("det_item_fee_sumamt"), "不等于 数量×单价（四舍五入到分）")
        lines.append(visits.FeeLine(
            feedetl_sn=row.text("feedetl_sn", max_len=40),
            # blank: resolved from the hospital's 医保目录对照 by medins_list_codg (visits._mapped)
            med_list_codg=row.text("med_list_codg", required=False, max_len=40) or "",
            amount_fen=amount, cnt=cnt, pric=pric, init_feedetl_sn=init_sn,
            medins_list_codg=row.text("medins_list_codg", required=False, max_len=40) or "",
            name=row.text("medins_list_name", required=False, max_len=100) or "",
            fee_ocur_time=row.date("fee_ocur_time", required=False)))
    return mdtrt_id, lines


def _upload(ctx: AppContext, call: Call, inpatient: bool) -> dict:
    mdtrt_id, lines = _fee_lines(call)
    result = visits.upload_fees(ctx, fixmedins_code=call.fixmedins_code, mdtrt_id=mdtrt_id, inpatient=inpatient,
                                lines=lines, admdvs=call.admdvs, actor=call.actor)
    return {"mdtrt_id": mdtrt_id, "result": [fee_row(entry) for entry in result]}


def t2301(ctx, call):
    return _upload(ctx, call, True)


def t2204(ctx, call):
    return _upload(ctx, call, False)


def _revoke(ctx: AppContext, call: Call, inpatient: bool) -> dict:
    raw = call.input.get("data") if isinstance(call.input, dict) else None
    entries = Fields(call.input, "").rows("data") if isinstance(raw, list) else [section(call.input, "data")]
    mdtrt_id = entries[0].text("mdtrt_id", max_len=40)
    sns = []
    for entry in entries:
        if entry.text("mdtrt_id", max_len=40) != mdtrt_id:
            raise invalid(entry.name("mdtrt_id"), "一次撤销只能属于同一就诊")
        sn = entry.text("feedetl_sn", required=False, max_len=40)
        if sn and sn != "0000":  # "0000" = every row of the visit, as the national interface writes it
            sns.append(sn)
    count = visits.revoke_fees(ctx, fixmedins_code=call.fixmedins_code, mdtrt_id=mdtrt_id, inpatient=inpatient,
                               feedetl_sns=sns or None, actor=call.actor)
    return {"result": {"mdtrt_id": mdtrt_id, "revoked_rows": count}}


def t2302(ctx, call):
    return _revoke(ctx, call, True)


def t2205(ctx, call):
    return _revoke(ctx, call, False)
