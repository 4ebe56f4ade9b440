"""The settlement slip (结算单) as a PDF, for the hospital desk to print.

reportlab's built-in CID font STSong-Light (Adobe-GB1) renders Chinese with no font file: the PDF
names the font and the reader supplies the glyphs, so nothing is downloaded or embedded at run time.
"""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.lib.styles import ParagraphStyle

from yidi.services.reference import mask_certno
from yidi.services.settlement_reads import SettlementFacts
from yidi.services.settlements import SettlementView
from yidi.web.core import MED_TYPE_NAMES, SETTLEMENT_STATUS_NAMES, money_text

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

LINES = [
    ("medfee_sumamt", "医疗费用总额"), ("fulamt_ownpay_amt", "全自费金额"), ("overlmt_selfpay", "超限价自费"),
    ("preselfpay_amt", "先行自付金额"), ("inscp_scp_amt", "符合政策范围金额"), ("act_pay_dedc", "实际支付起付线"),
    ("first_selfpay", "转外先行自付"), ("hifp_pay", "基本医疗保险统筹基金支出"), ("fund_pay_sumamt", "基金支付总额"),
    ("psn_part_amt", "个人负担总金额"),
]


def settlement_slip_pdf(view: SettlementView, *, person_name: str, certno: str, hospital_name: str,
                        regions: dict[str, str], facts: SettlementFacts, zero_reason: str | None = None) -> bytes:
    fields = view.row_fields
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A5, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title=f"结算单 {view.setl_id}", author="yidi")
    title = ParagraphStyle("title", fontName=FONT, fontSize=14, leading=20, alignment=1)
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=13)
    head = [
        ["结算号", view.setl_id, "状态", SETTLEMENT_STATUS_NAMES.get(view.status, view.status)],
        ["姓名", person_name, "证件号码", mask_certno(certno)],
        ["医疗机构", hospital_name, "医疗类别", MED_TYPE_NAMES.get(view.med_type, view.med_type)],
        ["参保地", regions.get(facts.insuplc_admdvs, facts.insuplc_admdvs),
         "就医地", regions.get(facts.mdtrtarea_admvs, facts.mdtrtarea_admvs)],
        ["就诊日期", f"{view.begntime.isoformat()} 至 {view.endtime.isoformat()}", "报销比例", fields.get("ratio", "")],
        ["诊断", facts.dise_codg or "未填写", "结算时间",
         facts.settled_at.strftime("%Y-%m-%d %H:%M") if facts.settled_at else facts.setl_date.isoformat()],
    ]
    money = [["项目", "金额（元）"]] + [[name, money_text(fields.get(key, "0.00"))] for key, name in LINES]
    style = TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 9),
                        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])
    money_style = TableStyle([*style.getCommands(), ("ALIGN", (1, 1), (1, -1), "RIGHT"),
                              ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7"))])
    story = [
        Paragraph("异地就医直接结算单", title), Spacer(1, 4 * mm),
        Table(head, colWidths=[18 * mm, 45 * mm, 18 * mm, 43 * mm], style=style), Spacer(1, 4 * mm),
        Table(money, colWidths=[80 * mm, 44 * mm], style=money_style), Spacer(1, 4 * mm),
        Paragraph(f"政策版本 {fields.get('policy_version', '')}；目录版本 {fields.get('catalog_version', '')}", body),
        *([Paragraph(f"基金支付为 0：{zero_reason}", body)] if zero_reason else []),
        Paragraph("基金支付部分由就医地经办机构与医疗机构结算，参保地与就医地按月清算；"
                  "个人负担部分由参保人在医疗机构窗口支付。", body),
        Spacer(1, 10 * mm),
        Table([["参保人（家属）签字：", "", "经办人签字：", ""], ["日期：", "", "医疗机构（盖章）：", ""]],
              colWidths=[30 * mm, 32 * mm, 30 * mm, 32 * mm], rowHeights=[10 * mm, 10 * mm],
              style=TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 9),
                                ("LINEBELOW", (1, 0), (1, -1), 0.6, colors.black),
                                ("LINEBELOW", (3, 0), (3, -1), 0.6, colors.black),
                                ("VALIGN", (0, 0), (-1, -1), "BOTTOM")])),
    ]
    doc.build(story)
    return buffer.getvalue()
