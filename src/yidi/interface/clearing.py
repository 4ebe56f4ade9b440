"""The interface's reconciliation and clearing transactions, as HIS systems run them.

- 3201 对总账: totals scoped by ``setl_optins`` (insured region = clearing institution), ``clr_type`` and
  ``insutype`` as sent, dated by settlement time; answers ``stmtinfo`` (the national node) and
  ``stmt_totlrslt`` (both sides and the differences).
- 9101 文件上传 → ``file_qury_no``; 3202 对明细账 with that number and the totals (or, as before, the rows
  inline in ``detail``); the result is a file for 9102 文件下载, which answers the file itself.
- 3203 清算申请 / 3204 撤销; 3260 / 3261 / 3262 清分 for the treatment side: fetch, confirm, roll back.
Use cases in services/reconciliation.py and services/hospital_clearing.py; money leaves as JSON numbers.
"""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING, Any

from yidi.interface.fields import INSUTYPES, Fields, section
from yidi.interface.output import yuan
from yidi.domain.errors import YidiError, invalid
from yidi.services import hospital_clearing, reconciliation
from yidi.services.context import AppContext

if TYPE_CHECKING:
    from yidi.interface.envelope import Call

MAX_DETAIL_ROWS = 100_000
MAX_UNZIPPED = 20_000_000  # bytes of text a 3202 details file may unpack to
DETAIL_COLUMNS = ("setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag")
RESULT_COLUMNS = ("psn_no", "mdtrt_id", "setl_id", "msgid", "stmt_rslt", "refd_setl_flag", "memo", "medfee_sumamt",
                  "fund_pay_sumamt", "acct_pay")
MEMO = {"only_ours": "医保有、医院无", "only_reported": "医院有、医保无", "amount": "金额不符"}
AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")


def _period(data: Fields, begn_key: str = "stmt_begndate", end_key: str = "stmt_enddate") -> tuple[date, date]:
    begn = data.date(begn_key)
    end = data.date(end_key)
    if end < begn:
        raise invalid(data.name(end_key), "结束日期早于开始日期")
    if (end - begn).days > 366:
        raise invalid(data.name(end_key), "期间不能超过一年")
    return begn, end


def _region(data: Fields, key: str) -> str | None:
    value = data.text(key, required=False, max_len=6)
    if value is not None and not (len(value) == 6 and value.isdigit()):
        raise invalid(data.name(key), "应为6位行政区划代码")
    return value


def _shown(amounts: dict | None) -> dict | None:
    return None if amounts is None else {k: (yuan(v) if k in AMOUNTS else v) for k, v in amounts.items()}


# ------------------------------------------------------------------------------------------- 3201 --
def t3201(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    begn, end = _period(data)
    cnt = data.decimal("fixmedins_setl_cnt", places=0)
    if cnt < 0:
        raise invalid(data.name("fixmedins_setl_cnt"), "笔数不能为负数")
    setl_optins = _region(data, "setl_optins")
    clr_type = data.code("clr_type", reconciliation.CLR_TYPES, required=False)
    reported = {"setl_optins": setl_optins, "insutype": data.code("insutype", INSUTYPES, required=False),
                "clr_type": clr_type, "medfee_sumamt": data.money("medfee_sumamt"),
                "fund_pay_sumamt": data.money("fund_pay_sumamt"),
                "acct_pay": data.money("acct_pay", required=False) or 0, "fixmedins_setl_cnt": int(cnt)}
    result = reconciliation.reconcile_totals(ctx, call.fixmedins_code, begn, end, reported)
    show = lambda d: {k: (yuan(v) if k != "fixmedins_setl_cnt" else v) for k, v in d.items()}  # noqa: E731
    verdict = {"setl_optins": setl_optins or "", "stmt_rslt": result["stmt_rslt"],
               "stmt_rslt_dscr": "平" if result["stmt_rslt"] == "0" else "不平"}
    return {"stmtinfo": verdict,
            "stmt_totlrslt": {**verdict, "clr_type": clr_type or "", "insutype": reported["insutype"] or "",
                              "ours": show(result["ours"]), "reported": show(result["reported"]),
                              "differences": show(result["differences"])}}


# ----------------------------------------------------------------------------------- files: 9101/9102 --
def _file_bytes(fields: Fields, key: str) -> bytes:
    """A file as HIS software sends it: a byte array (Java's signed bytes or 0–255) or Base64 text."""
    raw = fields.data.get(key)
    if isinstance(raw, list):
        if not raw or not all(isinstance(b, int) and not isinstance(b, bool) and -128 <= b <= 255 for b in raw):
            raise invalid(fields.name(key), "字节数组的元素应为 -128～255 的整数")
        return bytes(b % 256 for b in raw)
    if isinstance(raw, str) and raw.strip():
        try:
            return base64.b64decode(raw.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(fields.name(key), "应为字节数组或 Base64 文本") from None
    raise invalid(fields.name(key), "缺少文件内容（字节数组或 Base64）")


def t9101(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "fsUploadIn", "data")
    content = _file_bytes(data, "in")
    filename = data.text("filename", max_len=200)
    code = data.text("fixmedins_code", required=False, max_len=30)
    if code is not None and code not in (call.fixmedins_code, "plc"):
        raise invalid(data.name("fixmedins_code"), "应为本机构编码")
    row = hospital_clearing.store_file(ctx, fixmedins_code=call.fixmedins_code, filename=filename, content=content,
                                       actor=call.actor)
    return {"file_qury_no": row.file_qury_no, "filename": row.filename,
            "dld_endtime": f"{row.dld_endtime:%Y-%m-%d %H:%M:%S}"}


def t9102(ctx: AppContext, call: Call) -> bytes:
    data = section(call.input, "fsDownloadIn", "data")
    row = hospital_clearing.load_file(ctx, fixmedins_code=call.fixmedins_code,
                                      file_qury_no=data.text("file_qury_no", max_len=60))
    return row.content


# ------------------------------------------------------------------------------------------- 3202 --
def _file_text(content: bytes) -> str:
    """The details file: a ZIP holding a text file (as the platform asks) or the text itself; UTF-8 (GBK
    tolerated)."""
    if zipfile.is_zipfile(io.BytesIO(content)):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if sum(m.file_size for m in members) > MAX_UNZIPPED:
                    raise invalid("file_qury_no", "明细文件解压后过大")
                content = b"\n".join(archive.read(m) for m in members)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError):
            raise invalid("file_qury_no", "ZIP 文件无法解压") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise invalid("file_qury_no", "明细文件应为 UTF-8 文本")


def _detail_rows_from_file(text: str) -> list[Fields]:
    """Table 200 of the national spec: one settlement per line, TAB-separated, "null" for empty."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        cells = [cell.strip() for cell in line.split("\t")]
        if not any(cells) or (number == 1 and cells[0].lower() == "setl_id"):
            continue
        if len(cells) < 6:
            raise invalid(f"file[{number}]", f"应至少有 {', '.join(DETAIL_COLUMNS[:6])} 六列（TAB 分隔）")
        values = {name: (None if cell.lower() == "null" else cell) for name, cell in zip(DETAIL_COLUMNS, cells)}
        rows.append(Fields(values, f"file[{number}]"))
        if len(rows) > MAX_DETAIL_ROWS:
            raise YidiError("TOO_MANY_ROWS", {"rows": len(rows), "limit": MAX_DETAIL_ROWS})
    return rows


def _netted(rows: list[Fields]) -> tuple[list[dict], dict[str, int]]:
    """Rows per settlement with refunds netted (a cancelled settlement is sent as its row and its negated
    row: it nets to nothing and is left out), and the file's totals."""
    net: dict[str, dict] = defaultdict(lambda: {name: 0 for name in AMOUNTS} | {"refund": False})
    totals = {name: 0 for name in AMOUNTS}
    for row in rows:
        entry = net[row.text("setl_id", max_len=40)]
        entry.setdefault("mdtrt_id", row.text("mdtrt_id", required=False, max_len=40) or "")
        entry.setdefault("psn_no", row.text("psn_no", required=False, max_len=30) or "")
        for name in AMOUNTS:
            amount = row.money(name, required=name != "acct_pay") or 0
            entry[name] += amount
            totals[name] += amount
            entry["refund"] |= amount < 0
    kept = [{"setl_id": setl_id, **entry} for setl_id, entry in net.items()
            if not (entry["refund"] and all(entry[name] == 0 for name in AMOUNTS))]
    return kept, totals


def _result_file(differing: list[dict], checked: list[dict]) -> bytes:
    """Table 201: every checked settlement with its result (0 平 / 1 不平) and, when it differs, why."""
    by_id = {entry["setl_id"]: entry for entry in differing}
    lines = []
    for row in checked:
        entry = by_id.get(row["setl_id"])
        amounts = (entry.get("ours") or entry.get("reported")) if entry else row
        cells = {"psn_no": row.get("psn_no", ""), "mdtrt_id": row.get("mdtrt_id", ""), "setl_id": row["setl_id"],
                 "msgid": row.get("msgid", ""), "stmt_rslt": "1" if entry else "0", "refd_setl_flag": "0",
                 "memo": MEMO[entry["reason"]] if entry else "",
                 **{name: f"{yuan(int(amounts.get(name, 0))):.2f}" for name in AMOUNTS}}
        lines.append("\t".join(str(cells[name]) or "null" for name in RESULT_COLUMNS))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("3202_result.txt", "\n".join(lines) + ("\n" if lines else ""))
    return buffer.getvalue()


def t3202(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    begn, end = _period(data)
    file_qury_no = data.text("file_qury_no", required=False, max_len=60)
    if file_qury_no is not None:
        stored = hospital_clearing.load_file(ctx, fixmedins_code=call.fixmedins_code, file_qury_no=file_qury_no)
        source = _detail_rows_from_file(_file_text(stored.content))
    elif isinstance(call.input, dict) and "detail" in call.input:
        source = Fields(call.input, "").rows("detail")
        if len(source) > MAX_DETAIL_ROWS:
            raise YidiError("TOO_MANY_ROWS", {"rows": len(source), "limit": MAX_DETAIL_ROWS})
    else:
        raise invalid(data.name("file_qury_no"), "缺少该字段（先用 9101 上传明细文件）")
    rows, totals = _netted(source)
    for name in ("medfee_sumamt", "fund_pay_sumamt"):
        declared = data.money(name, required=False)
        if declared is not None and declared != totals[name]:
            raise invalid(data.name(name), f"与明细合计 {yuan(totals[name]):.2f} 不符")
    setl_optins = _region(data, "setl_optins")
    clr_type = data.code("clr_type", reconciliation.CLR_TYPES, required=False)
    result = reconciliation.reconcile_details(ctx, call.fixmedins_code, begn, end, rows, setl_optins=setl_optins,
                                              clr_type=clr_type)
    checked = {row["setl_id"]: row for row in rows}
    for entry in result["differing"]:
        checked.setdefault(entry["setl_id"], {**entry, **(entry.get("ours") or {})})
    stored = hospital_clearing.store_file(ctx, fixmedins_code=call.fixmedins_code,
                                          filename=f"3202_{begn:%Y%m%d}_{end:%Y%m%d}.zip",
                                          content=_result_file(result["differing"], list(checked.values())),
                                          actor=call.actor)
    return {"fileinfo": {"file_qury_no": stored.file_qury_no, "filename": stored.filename,
                         "dld_endtime": f"{stored.dld_endtime:%Y-%m-%d %H:%M:%S}"},
            "setl_optins": setl_optins or "", "stmt_rslt": result["stmt_rslt"], "checked": result["checked"],
            "differing": [{"setl_id": r["setl_id"], "mdtrt_id": r["mdtrt_id"], "psn_no": r["psn_no"],
                           "reason": r["reason"], "memo": MEMO[r["reason"]], "ours": _shown(r["ours"]),
                           "reported": _shown({k: v for k, v in (r["reported"] or {}).items() if k in AMOUNTS})
                           if r["reported"] is not None else None}
                          for r in result["differing"]]}


# ---------------------------------------------------------------------------------- 3203 / 3204 --
def t3203(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    begn, end = _period(data, "begndate", "enddate")
    setlym = data.text("setlym", required=False, max_len=6) or f"{end:%Y%m}"
    if not (len(setlym) == 6 and setlym.isdigit() and 1 <= int(setlym[4:]) <= 12):
        raise invalid(data.name("setlym"), "应为清算年月 yyyyMM")
    psntime = data.decimal("psntime", places=0)
    if psntime < 0:
        raise invalid(data.name("psntime"), "人次不能为负数")
    app = hospital_clearing.Application(
        clr_optins=_region(data, "clr_optins") or _region(data, "setl_optins") or "",
        clr_type=data.code("clr_type", reconciliation.CLR_TYPES), setlym=setlym, begndate=begn, enddate=end,
        psntime=int(psntime), medfee_sumamt=data.money("medfee_sumamt"), fund_appy_sum=data.money("fund_appy_sum"),
        acct_pay=data.money("acct_pay", required=False) or 0, cash_payamt=data.money("cash_payamt"))
    row = hospital_clearing.apply_for_clearing(ctx, call.fixmedins_code, app, actor=call.actor)
    return {"result": {"clr_appy_evt_id": row.clr_appy_evt_id, "setlym": row.setlym, "clr_type": row.clr_type,
                       "clr_optins": row.clr_optins}}


def t3204(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    row = hospital_clearing.withdraw_application(ctx, call.fixmedins_code, data.text("clr_appy_evt_id", max_len=30),
                                                 actor=call.actor)
    return {"result": {"clr_appy_evt_id": row.clr_appy_evt_id, "clr_stas": row.status}}


# --------------------------------------------------------------------------------- 3260 / 3261 / 3262 --
def _clearing_scope(call: Call) -> tuple[Fields, str, str | None, list[str] | None]:
    data = section(call.input, "data")
    clr_ym = data.text("clr_ym", required=False, max_len=8) or data.text("setlym", required=False, max_len=8)
    if clr_ym is None:
        raise invalid(data.name("clr_ym"), "缺少该字段（清算年月 yyyyMM）")
    clr_ym = clr_ym.replace("-", "")
    setl_ids = None
    if data.text("setl_id", required=False, max_len=40):
        setl_ids = [data.text("setl_id", max_len=40)]
    elif isinstance(call.input, dict) and "detail" in call.input:
        setl_ids = [row.text("setl_id", max_len=40) for row in Fields(call.input, "").rows("detail")]
    return data, clr_ym, _region(data, "clr_optins"), setl_ids


def _item(item: hospital_clearing.ClearingItem) -> dict[str, Any]:
    row = item.row
    return {"setl_id": row.setl_id, "mdtrt_id": row.mdtrt_id or "", "psn_no": row.psn_no,
            "insuplc_admdvs": row.insuplc_admdvs, "clr_optins": row.insuplc_admdvs,
            "clr_type": item.clr_type, "med_type": row.med_type,
            "setl_date": row.setl_date.isoformat(), "medfee_sumamt": yuan(row.medfee_sumamt),
            "fund_pay_sumamt": yuan(row.fund_pay_sumamt), "acct_pay": yuan(row.acct_pay or 0),
            "clr_amt": yuan(item.amount_fen), "cnfm_flag": "1" if item.confirmed else "0"}


def t3260(ctx: AppContext, call: Call) -> dict:
    data, clr_ym, clr_optins, _ids = _clearing_scope(call)
    page_num = int(data.decimal("page_num", required=False, places=0) or 1)
    page_size = int(data.decimal("page_size", required=False, places=0) or 100)
    if page_num < 1 or not 1 <= page_size <= 1000:
        raise invalid(data.name("page_size"), "page_num ≥ 1，page_size 为 1～1000")
    items, cleared = hospital_clearing.clearing_items(ctx, call.fixmedins_code, clr_ym, clr_optins=clr_optins)
    page = items[(page_num - 1) * page_size: page_num * page_size]
    return {"data": [_item(item) for item in page], "clr_ym": clr_ym, "clr_stas": "1" if cleared else "0",
            "sumamt": {"setl_cnt": len(items), "clr_amt": yuan(sum(i.amount_fen for i in items)),
                       "cnfm_cnt": sum(1 for i in items if i.confirmed),
                       "cnfm_amt": yuan(sum(i.amount_fen for i in items if i.confirmed))},
            "page_num": page_num, "page_size": page_size, "recordCounts": len(items),
            "pages": (len(items) + page_size - 1) // page_size}


def t3261(ctx: AppContext, call: Call) -> dict:
    _data, clr_ym, clr_optins, setl_ids = _clearing_scope(call)
    items = hospital_clearing.confirm(ctx, call.fixmedins_code, clr_ym, setl_ids, clr_optins=clr_optins,
                                      actor=call.actor)
    return {"result": {"clr_ym": clr_ym, "cnfm_cnt": len(items), "clr_amt": yuan(sum(i.amount_fen for i in items)),
                       "setl_ids": [i.row.setl_id for i in items]}}


def t3262(ctx: AppContext, call: Call) -> dict:
    _data, clr_ym, clr_optins, setl_ids = _clearing_scope(call)
    items = hospital_clearing.roll_back(ctx, call.fixmedins_code, clr_ym, setl_ids, clr_optins=clr_optins,
                                        actor=call.actor)
    return {"result": {"clr_ym": clr_ym, "rollback_cnt": len(items),
                       "clr_amt": yuan(sum(i.amount_fen for i in items)), "setl_ids": [i.row.setl_id for i in items]}}

