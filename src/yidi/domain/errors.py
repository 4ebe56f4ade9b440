"""Coded errors (S6): every refusal has a stable code, a category, a plain-Chinese cause and what to do next.

Errors are values: the domain returns or raises ``YidiError``; the edges (HTTP, interface envelope,
scenario runner, CLI) render ``code`` + ``message``. docs/errors.md is generated from ``CATALOG``
(``yidi docs errors``) and a test keeps the two identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    category: str  # input / filing / benefit / settlement / auth / system
    http_status: int
    message: str  # cause, plain Chinese; may contain {placeholders}
    hint: str  # what to do next


_FILE_CHANNELS = "国家医保服务平台APP、国家异地就医备案小程序、参保地经办机构窗口或电话"

CATALOG: dict[str, ErrorSpec] = {
    spec.code: spec
    for spec in [
        ErrorSpec("INVALID_INPUT", "input", 422, "输入有误：{field}{detail}", "请按接口文档更正该字段后重新提交。"),
        ErrorSpec("NOT_FOUND", "input", 404, "未找到{what}：{key}", "请核对编号后重试。"),
        ErrorSpec("UNKNOWN_PERSON", "input", 404, "未找到参保人员：{key}", "请核对证件号码或人员编号；仍无法找到请联系参保地经办机构核实参保状态。"),
        ErrorSpec("UNKNOWN_INSTITUTION", "input", 404, "定点医药机构编码不在异地联网目录中：{key}", "请核对 fixmedins_code；未开通异地联网结算的机构请先向就医地经办机构申请开通。"),
        ErrorSpec("UNKNOWN_REGION", "input", 422, "行政区划代码不在目录中：{key}", "请使用6位行政区划代码（如 110000 北京市、410100 郑州市）。"),
        ErrorSpec("INSURANCE_INACTIVE", "filing", 409, "参保状态异常（{status}），不能享受异地就医直接结算", "请先到参保地经办机构恢复参保后再就医或备案。"),
        ErrorSpec("NOT_FILED", "filing", 409, "未查询到覆盖本次就医（{mdtrtarea}，{date}）的有效异地就医备案",
                  f"请通过{_FILE_CHANNELS}办理异地就医备案；出院结算前补办备案的可直接结算，已自费出院的可在补办备案后申请线上零星报销。"),
        ErrorSpec("FILING_PENDING", "filing", 409, "备案尚在审核中（申请日 {apply_date}，最迟 {due_date} 前办结）", "请等待参保地经办机构审核，或到窗口办理即时生效的备案。"),
        ErrorSpec("FILING_OVERLAP", "filing", 409, "已有覆盖该就医地和时间段的有效备案（{filing_id}）", "如需调整请办理备案变更，而不是重复备案。"),
        ErrorSpec("FILING_CHANGE_NEEDS_PROOF", "filing", 409, "以个人承诺方式办理的长期异地备案未满{months}个月（满{months}个月之日为 {free_from}），变更或取消需提供证明材料",
                  "请提供备案类型所需证明材料（如户籍证明、居住证、工作证明或退休安置证明）后再办理，或于 {free_from} 起办理。"),
        ErrorSpec("FILING_ENDED", "filing", 409, "异地就医备案 {filing_id} 已因参保状态变更于 {date} 终止，不覆盖此后入院的就诊（{mdtrtarea}，{admission}）",
                  "参保状态变更后备案不再有效：请按新的参保状态重新办理异地就医备案；已自费出院的可在补办备案后申请零星报销。"),
        ErrorSpec("FILING_NOT_ACTIVE", "filing", 409, "备案当前状态为 {status}，不能执行该操作", "请查询备案状态；已撤销或已变更的备案请重新办理备案。"),
        ErrorSpec("COMMITMENT_NOT_ALLOWED", "filing", 422, "该备案类型不能以个人承诺方式办理", "请提供证明材料（如转诊证明）后办理。"),
        ErrorSpec("COMMITMENT_NOT_SIGNED", "filing", 422, "个人承诺方式备案需勾选并签署《个人承诺书》", "请阅读承诺书全文，勾选并签名后提交。"),
        ErrorSpec("FILING_ALREADY_DECIDED", "filing", 409, "该备案已审核（{status}）", "无需重复审核。"),
        ErrorSpec("MED_TYPE_NOT_SUPPORTED", "benefit", 422, "医疗类别 {med_type} 不支持异地直接结算", "支持 11 普通门诊（12 门诊挂号、13 急诊按普通门诊结算）、14 门诊慢特病、15 特药、21 普通住院、22 外伤住院、23 转外诊治住院；其他医疗类别请按参保地规定办理。"),
        ErrorSpec("TRAUMA_NOT_CONFIRMED", "benefit", 409, "外伤住院需确认无第三方责任后方可直接结算", "请医院核实并标记无第三方责任外伤（trauma_no_third_party）；有第三方责任的费用由责任方承担或回参保地手工报销。"),
        ErrorSpec("CHRONIC_NOT_CROSS_PROVINCE", "benefit", 409, "门诊慢特病 {dise_codg} {name} 只在参保省内异地就医直接结算；跨省直接结算的病种为 {cross_province}",
                  "请在参保省内的门诊慢特病定点医药机构就医，或自费后回参保地按规定申请手工（零星）报销。"),
        ErrorSpec("SPECIAL_DRUG_NOT_COVERED", "benefit", 409, "参保地 {region} {name} 未将特药纳入异地就医直接结算",
                  "特药费用请按参保地规定办理：可回参保地购药，或自费后回参保地申请手工（零星）报销。"),
        ErrorSpec("SPECIAL_DRUG_NOT_CROSS_PROVINCE", "benefit", 409, "特药只在参保省内异地就医直接结算（参保地 {insuplc}，就医地 {mdtrtarea} 在省外）",
                  "请在参保省内的特药定点医院或“双通道”定点药店购药，或自费后回参保地申请手工（零星）报销。"),
        ErrorSpec("SPECIAL_DRUG_NOT_RECOGNIZED", "benefit", 409, "参保人没有 {date} 有效的特药待遇认定（{drug}）",
                  "请由责任医院的责任医师提出申请，到参保地经办机构办理特药待遇认定后再购药。"),
        ErrorSpec("SPECIAL_DRUG_WRONG_HOSPITAL", "benefit", 409, "本院不是该参保人特药（{drug}）认定的责任医院（{hospitals}）",
                  "请到认定的责任医院就医取药，或凭责任医师处方到“双通道”定点药店购药；如需变更责任医院请到参保地经办机构办理。"),
        ErrorSpec("SPECIAL_DRUG_PRESCRIBER", "benefit", 409, "处方医师 {doctor} 不是该参保人特药（{drug}）认定的责任医师（{responsible}）",
                  "请凭责任医师开具的处方购药；如需变更责任医师请到参保地经办机构办理。"),
        ErrorSpec("PHARMACY_NOT_DUAL_CHANNEL", "benefit", 409, "药店 {fixmedins_code} 不能直接结算特药 {drug}：{detail}",
                  "请到该特药的“双通道”定点药店或责任医院购药；定点药店名单可在就医地医保部门查询。"),
        ErrorSpec("NOT_A_PHARMACY", "input", 422, "机构 {fixmedins_code} 不是定点零售药店，不能使用药店交易（{infno}）",
                  "定点医疗机构请使用门诊交易 2201–2208 结算（特药医疗类别 15）。"),
        ErrorSpec("PHARMACY_MED_TYPE", "benefit", 422, "药店异地直接结算只支持特药（医疗类别 15），收到 {med_type}",
                  "非特药的药店购药不在异地直接结算范围内，请按参保地规定办理。"),
        ErrorSpec("NO_POLICY", "benefit", 409, "参保地 {region} 在 {year} 年没有已载入的待遇政策（{date}）{first}",
                  "该年度的费用不能按本系统已载入的政策结算：请联系参保地经办机构维护该年度的政策参数，或回参保地按当年规定手工报销。"),
        ErrorSpec("DUPLICATE_CLAIM", "settlement", 409, "本次就诊已结算或已报销（结算号 {setl_id}），不能重复报销", "同一次就诊只能直接结算或零星报销一次；如结算有误请先撤销原结算。"),
        ErrorSpec("MANUAL_CLAIM_NOT_CANCELLABLE", "settlement", 409, "结算 {setl_id} 是经参保地经办机构审核的零星报销，医院不能撤销", "零星报销的更正由参保地经办机构办理；如有误请联系参保地经办机构。"),
        ErrorSpec("CLAIM_PENDING", "settlement", 409, "本次就诊已有待审核的零星报销申请（{claim_id}）", "请等待参保地经办机构审核，可在“我的零星报销申请”中查看进度；不要重复提交。"),
        ErrorSpec("CLAIM_ALREADY_DECIDED", "settlement", 409, "该零星报销申请已审核（{status}）", "无需重复审核；已通过的申请如需更正请由经办机构冲正后重新申请。"),
        ErrorSpec("ATTACHMENT_MISSING", "input", 422, "零星报销申请缺少附件：{missing}", "请上传发票和费用清单的扫描件或照片（PDF、JPEG 或 PNG）后重新提交。"),
        ErrorSpec("ATTACHMENT_EMPTY", "input", 422, "附件 {filename} 是空文件", "请重新选择文件后上传。"),
        ErrorSpec("ATTACHMENT_TOO_LARGE", "input", 413, "附件 {filename} 大小 {size_kb} KB，超过上限 {limit_kb} KB", "请压缩图片或分页扫描后重新上传，每个文件不超过 {limit_kb} KB。"),
        ErrorSpec("ATTACHMENT_TYPE_NOT_ALLOWED", "input", 415, "附件 {filename} 不是 PDF、JPEG 或 PNG 文件（声明类型：{declared}）", "请上传发票和费用清单的 PDF 扫描件或 JPEG/PNG 照片。"),
        ErrorSpec("SETTLEMENT_NOT_FOUND", "settlement", 404, "未找到结算记录：{setl_id}", "请核对结算号。"),
        ErrorSpec("SETTLEMENT_ALREADY_CANCELLED", "settlement", 409, "结算 {setl_id} 已撤销或已冲正", "无需重复撤销；如需重新结算请重新上传费用。"),
        ErrorSpec("CLEARING_MONTH_OPEN", "funds", 409, "清算月份 {month} 尚未结束（截至 {period_end}），不能清算", "请在该月结束后（次月起）再执行月度清算。"),
        ErrorSpec("CLEARING_SIDES_DIFFER", "funds", 409, "{month} 参保地与就医地的结算事件不一致：{detail}",
                  "请先运行 yidi verify --federation 查看每一笔差异（含 msgid），由两地经办机构核实更正后再清分；确需按参保地数据清分请加 --accept-differences。"),
        ErrorSpec("CLEARING_EVENTS_PENDING", "funds", 409, "中心尚有 {pending} 条结算事件未处理完，不能清分 {month}",
                  "请确认各省节点和中心节点均在运行、事件已送达（yidi verify --federation 显示待发送数），稍后重试。"),
        ErrorSpec("RECOVERY_EXCEEDS", "funds", 409, "结算 {setl_id} 累计追回 {total} 元，超过该笔基金支付 {fund} 元", "请核对追回金额；罚款、违约金请按 fine 类型登记。"),
        ErrorSpec("SETTLEMENT_NOT_CLEARABLE", "funds", 409, "结算 {setl_id} 不是已结算状态，不能登记追回", "已撤销或已冲正的结算无需追回。"),
        ErrorSpec("TOO_MANY_ROWS", "input", 422, "单次上传费用明细 {rows} 条，超过上限 {limit} 条", "请分批上传，每批不超过 {limit} 条。"),
        ErrorSpec("VISIT_NOT_FOUND", "settlement", 404, "未找到就诊记录 mdtrt_id={mdtrt_id}", "请先办理入院（2401）或门诊挂号（2201）。"),
        ErrorSpec("ALREADY_ADMITTED", "settlement", 409, "参保人 {psn_no} 已有在院记录（入院日期 {begntime}，{where}），不能重复办理入院",
                  "请先为该次住院办理出院（2402）或入院撤销（2404）；记录有误请联系就医地经办机构核实。"),
        ErrorSpec("CLEARING_TOTALS_DIFFER", "settlement", 409, "清算申请与本机构结算数据不符：{detail}",
                  "请先用 3201 对总账、3202 对明细账核对差异，按结算数据申报后重新提交清算申请（3203）。"),
        ErrorSpec("VISIT_STATE", "settlement", 409, "就诊 {mdtrt_id} 当前状态为 {state}，不能执行该操作", "请按 入院→上传费用→预结算→结算 的顺序办理。"),
        ErrorSpec("MSGID_CONFLICT", "settlement", 409, "报文ID {msgid} 已使用且报文内容不同", "每笔交易使用新的 msgid；查询上一笔结果请原样重发同一报文。"),
        ErrorSpec("MESSAGE_REVERSED", "settlement", 409, "报文 {msgid} 已被冲正（2601），原交易不再办理", "如仍需办理该业务，请使用新的 msgid 重新发起交易。"),
        ErrorSpec("CARE_DATE_IN_FUTURE", "input", 422, "{field} {value} 晚于当前时间 {now}（允许时钟误差 {tolerance} 秒）：就医日期不能是将来的日期",
                  "请核对入院、出院（就诊）日期和本机系统时间；出院办理和结算请在实际出院后进行，测算未来的治疗请用今天的日期。"),
        ErrorSpec("CONTROL_CHARACTER", "input", 400, "请求含有不允许的控制字符 NUL（{where}）", "请去掉文本中的 \\u0000（NUL）字符后重新提交；证件号、编号、用户名等只能是可见字符。"),
        ErrorSpec("CONCURRENT_CONFLICT", "settlement", 409, "同一参保人或就诊的另一笔交易正在办理，本笔未能完成（已自动重试 {attempts} 次）",
                  "本笔未生效，数据未改变；请稍后用同一报文ID（msgid）原样重发，或刷新后重新提交。"),
        ErrorSpec("UNKNOWN_INFNO", "input", 404, "不支持的交易编号 infno={infno}", "请核对接口文档中的交易编号。"),
        ErrorSpec("REQUEST_REPLAYED", "auth", 401, "身份认证失败：该签名请求已被受理过（nonce 或签名重复），疑为重放",
                  "每次请求须重新生成时间戳、nonce 和签名；查询上一笔交易结果请用同一 msgid 重新签名后发送。"),
        ErrorSpec("AUTH_FAILED", "auth", 401, "身份认证失败：{detail}", "请核对 _api_access_key 与密钥、签名算法和系统时间（允许误差±300秒）。"),
        ErrorSpec("LOGIN_FAILED", "auth", 401, "登录失败：{detail}", "请核对用户名和密码（区分大小写）；忘记密码请联系经办机构重置。"),
        ErrorSpec("LOGIN_REQUIRED", "auth", 401, "未登录或登录已失效：{detail}", "请先 POST /api/login 获取令牌，并在请求头中携带 Authorization: Bearer <令牌>。"),
        ErrorSpec("FORBIDDEN", "auth", 403, "无权执行该操作：{detail}", "请使用有相应角色和区域权限的账号。"),
        ErrorSpec("POLICY_INVALID", "system", 500, "政策参数文件无效：{file} {path}：{reason}", "请修正政策文件后重新加载；无效文件不会生效。"),
        ErrorSpec("PAYLOAD_TOO_LARGE", "input", 413, "报文过大或嵌套过深（{detail}）", "请拆分报文：单次费用明细不超过300条，input 不超过40000字符。"),
        ErrorSpec("FILE_ACCESS", "input", 422, "无法读写文件 {path}：{reason}", "请确认路径存在且有读写权限，或换一个路径。"),
        ErrorSpec("RATE_LIMITED", "input", 429, "请求过于频繁（{detail}）", "请稍后重试；批量业务请错峰提交。"),
        ErrorSpec("SYSTEM_ERROR", "system", 500, "系统内部错误（参考号 {ref}）", "请稍后重试；如持续出现请将参考号提供给运维人员。"),
        ErrorSpec("SERVICE_UNAVAILABLE", "system", 503, "参保地系统暂时不可用（{detail}）", "就诊信息已保存，可稍后重试结算，或出院后申请线上零星报销。"),
        # Operations (issue 19): the server, accounts, imports, two-person confirmation, backups.
        ErrorSpec("METHOD_NOT_ALLOWED", "input", 405, "该地址不支持 {method} 请求：{path}", "请按 /docs 接口文档使用正确的请求方法。"),
        ErrorSpec("DATABASE_UNAVAILABLE", "system", 503, "数据库暂时不可用（{detail}）", "请检查数据库服务和 YIDI_DATABASE_URL；数据库恢复后服务自动就绪。"),
        ErrorSpec("NATS_UNAVAILABLE", "system", 503, "省级节点与 NATS 的连接中断（{detail}）", "本省内业务照常；跨省业务暂不可用。请检查 NATS 服务和 YIDI_NATS_URL，连接恢复后自动就绪。"),
        ErrorSpec("PRODUCTION_CONFIG_MISSING", "system", 500, "生产模式（YIDI_ENV=production）缺少必需的配置：{missing}", "请在环境文件中设置上述变量后重新启动（见 docs/operations.md）。"),
        ErrorSpec("ALREADY_EXISTS", "input", 409, "{what} {key} 已存在", "请换一个编号，或修改已有的记录。"),
        ErrorSpec("IMPORT_REJECTED", "input", 422, "导入文件有 {count} 处错误，未导入任何数据", "请按逐行报告更正文件后重新导入（可先加 --dry-run 检查）。"),
        ErrorSpec("APPROVAL_SAME_PERSON", "auth", 403, "发起人和复核人不能是同一人（{username}）", "资金划拨须由另一名有权限的用户登录复核。"),
        ErrorSpec("APPROVAL_NOT_PENDING", "funds", 409, "复核申请 {request_id} 当前状态为 {status}，不能复核", "请查询待复核申请；已执行或已撤回的申请需重新发起。"),
        ErrorSpec("BACKUP_FAILED", "system", 500, "备份或恢复失败：{detail}", "请检查数据库地址、磁盘空间和 pg_dump/pg_restore 是否安装，然后重试。"),
    ]
}


@dataclass
class YidiError(Exception):
    """A refusal with a stable code. ``params`` fill the message and hint templates."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in CATALOG:
            raise KeyError(f"unknown error code {self.code}")
        Exception.__init__(self, self.message)

    @property
    def spec(self) -> ErrorSpec:
        return CATALOG[self.code]

    @property
    def message(self) -> str:
        return _fill(self.spec.message, self.params)

    @property
    def hint(self) -> str:
        return _fill(self.spec.hint, self.params)

    @property
    def http_status(self) -> int:
        return self.spec.http_status

    def full_message(self) -> str:
        """Cause and next step in one line, as the interface's ``err_msg`` carries it."""
        return f"{self.message}。{self.hint}"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.full_message(), "hint": self.hint, "category": self.spec.category}


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str, params: dict[str, Any]) -> str:
    return template.format_map(_Lenient({k: v for k, v in params.items()}))


def invalid(field_name: str, detail: str = "") -> YidiError:
    return YidiError("INVALID_INPUT", {"field": field_name, "detail": f"（{detail}）" if detail else ""})


def errors_markdown() -> str:
    """docs/errors.md, generated from CATALOG."""
    lines = [
        "# 错误码 / Error codes",
        "",
        "Generated by `yidi docs errors` from `src/yidi/domain/errors.py`; a test keeps this file identical.",
        "Every refusal carries one of these codes; `err_msg` / `message` = cause + what to do next.",
        "",
        "| code | category | HTTP | 原因 (cause) | 处理 (what to do) |",
        "|---|---|---|---|---|",
    ]
    for spec in CATALOG.values():
        lines.append(f"| `{spec.code}` | {spec.category} | {spec.http_status} | {spec.message} | {spec.hint} |")
    return "\n".join(lines) + "\n"
