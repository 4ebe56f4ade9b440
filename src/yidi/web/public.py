"""The public entry, without a login: what 异地就医备案 is, who files, where, with what, each insured
region's rules (read from its policy, so the page follows the data), the anonymous cost estimate and the
networked-hospital finder."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request

from yidi.domain.errors import YidiError
from yidi.domain.filing import LONG_TERM_TYPES, ONLINE_CHANNELS, TYPE_NAMES, Channel, FilingType
from yidi.services import settlements as settlement_service
from yidi.web.core import ROLE_HOME, PageRoute, ctx_of, current_user, form, form_list, kept_rows, redirect, render
from yidi.services.directory import institutions, region_names
from yidi.web.forms import MAX_FEE_ROWS, all_catalog_items, filing_guide, parse_items, parse_period
from yidi.web.settlement_page import zero_fund_reason

router = APIRouter(route_class=PageRoute)

# Who each filing type is for, and the proof it is filed with (seed 001 一(二), seed 003 二(一)); a region
# that accepts a commitment for the type (filing.commitment_allowed_for) takes a signed 个人承诺书 instead.
WHO = {
    FilingType.RETIRED_RELOCATED: "退休后到参保地以外定居（随子女养老等）",
    FilingType.LONG_TERM_RESIDENT: "在参保地以外长期居住、生活",
    FilingType.RESIDENT_WORKER: "被单位派驻或长期在参保地以外工作",
    FilingType.REFERRAL: "参保地定点医院开具转诊，到外地治疗",
    FilingType.EMERGENCY: "出差、旅游等在外地突发急病需要抢救",
    FilingType.OTHER_TEMPORARY: "其他原因临时到外地就医（非急诊、未转诊）",
}
PROOF = {
    FilingType.RETIRED_RELOCATED: "户籍证明或居住证明",
    FilingType.LONG_TERM_RESIDENT: "居住证或居住证明",
    FilingType.RESIDENT_WORKER: "单位派驻或工作证明",
    FilingType.REFERRAL: "参保地定点医疗机构开具的转诊转院证明",
    FilingType.EMERGENCY: "在外就医的急诊证明或病历",
    FilingType.OTHER_TEMPORARY: "无需证明材料",
}
CHANNEL_WHERE = [(Channel.APP, "手机下载后实名登录，在“异地就医备案”中办理"),
                 (Channel.MINI_PROGRAM, "微信或支付宝搜索“国家异地就医备案”"),
                 (Channel.WEB, "参保地医保网上办事大厅"),
                 (Channel.PHONE, "拨打参保地经办机构电话办理"),
                 (Channel.WINDOW, "到参保地医保经办机构窗口办理"),
                 (Channel.HOSPITAL_DESK, "部分医院的医保服务站可代为办理"),
                 (Channel.TOWNSHIP, "乡镇（街道）、村（社区）便民服务中心")]
HELP_LINE = "12393"  # 全国医疗保障服务热线


def region_rules(ctx, on: date) -> list[dict]:
    """Each insured region's filing rules as in force on ``on``, from its policy (filing.*, remote.*)."""
    names = region_names(ctx)
    rules = []
    for region in sorted(ctx.policy.insured):
        try:
            guide = filing_guide(ctx, region, on)
        except YidiError:  # no version in force yet
            continue
        filing = guide["rules"]
        rules.append({"region": region, "name": names.get(region, region), **guide,
                      # None where the region's document sets no extension (only 焦作's does, F-R11)
                      "extension": filing.temporary_extension_months.value, "auto_approve": filing.online_auto_approve.value,
                      "working_days": filing.approval_working_days.value,
                      "refile": filing.change_mode.value == "terminate_and_refile",
                      "proof_ever_required": filing.proof_ever_required.value})
    return rules


@router.get("/")
def home(request: Request):
    user = current_user(request)
    if user is not None:
        return redirect(ROLE_HOME[user.role])
    return guide(request)


@router.get("/guide")
def guide(request: Request):
    ctx = ctx_of(request)
    return render(request, "public/home.html", types=TYPE_NAMES, long_term=LONG_TERM_TYPES, who=WHO, proof=PROOF,
                  channels=CHANNEL_WHERE, online=ONLINE_CHANNELS, rules=region_rules(ctx, date.today()),
                  regions=region_names(ctx), help_line=HELP_LINE)


def _estimate_page(request: Request, status_code: int = 200, **extra):
    ctx = ctx_of(request)
    hospitals = institutions(ctx)
    names = region_names(ctx)
    insured = {code: names.get(code, code) for code in sorted(ctx.policy.insured)}
    return render(request, "public/estimate.html", status_code=status_code, hospitals=hospitals, regions=names,
                  insured=insured, types=TYPE_NAMES, catalog=all_catalog_items(ctx, hospitals),
                  rows=range(MAX_FEE_ROWS), values=extra.pop("values", {}), kept=kept_rows(request), **extra)


@router.get("/estimate")
def estimate_form(request: Request):
    return _estimate_page(request)


@router.post("/estimate")
def estimate_run(request: Request):
    """费用测算 for anyone: a profile (参保地, 险种, 备案类型) instead of a person number, so nothing about a
    person is read or written (services.settlements.estimate_anonymous)."""
    values = form(request)
    try:
        insured = values.get("insuplc_admdvs", "")
        if not ctx_of(request).policy.has_insured_policy(insured):
            raise YidiError("INVALID_INPUT", {"field": "insuplc_admdvs", "detail": "（请选择参保地）"})
        begin, end = parse_period(values.get("begntime"), values.get("endtime") or values.get("begntime"),
                                  "begntime", "endtime")
        command = settlement_service.SettleCommand(
            psn_no="", fixmedins_code=values.get("fixmedins_code", ""), med_type=values.get("med_type", ""),
            begntime=begin, endtime=end,
            items=parse_items(form_list(request, "code"), form_list(request, "amount")),
            dise_codg=values.get("dise_codg") or None, emergency=values.get("filing_type") == "emergency",
            trauma_no_third_party=True if values.get("trauma") == "yes" else None, actor="estimate")
        profile = settlement_service.AnonymousProfile(insuplc_admdvs=insured, insutype=values.get("insutype", ""),
                                                      filing_type=values.get("filing_type") or None)
        result = settlement_service.estimate_anonymous(ctx_of(request), command, profile)
    except YidiError as exc:
        return _estimate_page(request, status_code=exc.http_status, values=values, problem=exc)
    return _estimate_page(request, values=values, result=result,
                          zero_reason=zero_fund_reason(result, command.med_type))
