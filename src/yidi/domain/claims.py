"""零星报销 (S4) as a reviewed application: its states, its attachments and its bank account. Pure rules.

A claim is submitted with the invoice (发票) and the fee list (费用清单) and the account the refund goes to; it
waits in the insured region's queue (due date as for filings, F4); a clerk approves (the payment is booked
then) or rejects it with a reason; an approved claim is marked paid when the transfer to the account is made.
Only the agency undoes a paid claim (reversed); the hospital named in it cannot.
"""

from __future__ import annotations

import re
from enum import Enum

from yidi.domain.errors import YidiError, invalid


class ClaimStatus(str, Enum):
    SUBMITTED = "submitted"  # in the clerk's queue; nothing paid
    APPROVED = "approved"  # settlement, usage and ledger booked; the transfer to the person is due
    REJECTED = "rejected"  # with a reason; nothing paid
    PAID = "paid"  # the transfer to the person's account was made
    REVERSED = "reversed"  # the agency undid the payment (冲正): settlement reversed, usage given back


class AttachmentKind(str, Enum):
    INVOICE = "invoice"  # 医疗收费票据（发票）
    FEE_LIST = "fee_list"  # 费用明细清单


ATTACHMENT_KIND_NAMES = {AttachmentKind.INVOICE: "发票", AttachmentKind.FEE_LIST: "费用清单"}
MAX_ATTACHMENTS = 6

# What a file is, from its first bytes (the declared type and the file name are the sender's word only).
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
ALLOWED_TYPES = tuple(content_type for _, content_type in _SIGNATURES)
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf": "application/pdf"}


def sniff(content: bytes) -> str | None:
    for signature, content_type in _SIGNATURES:
        if content.startswith(signature):
            return content_type
    return None


def check_attachment(filename: str, declared_type: str, content: bytes, max_bytes: int) -> str:
    """The attachment's content type (PDF, JPEG or PNG) or a coded refusal; the bytes decide, not the name."""
    if not content:
        raise YidiError("ATTACHMENT_EMPTY", {"filename": filename})
    if len(content) > max_bytes:
        raise YidiError("ATTACHMENT_TOO_LARGE", {"filename": filename, "size_kb": -(-len(content) // 1024),
                                                 "limit_kb": max_bytes // 1024})
    found = sniff(content)
    declared = _ALIASES.get(declared_type.strip().lower(), declared_type.strip().lower())
    if found is None or (declared and declared != "application/octet-stream" and declared != found):
        raise YidiError("ATTACHMENT_TYPE_NOT_ALLOWED", {"filename": filename, "declared": declared or "未声明"})
    return found


def check_attachment_kinds(kinds: list[str]) -> None:
    """At least one invoice and one fee list; no more than MAX_ATTACHMENTS files."""
    if len(kinds) > MAX_ATTACHMENTS:
        raise invalid("attachments", f"最多上传 {MAX_ATTACHMENTS} 个附件")
    for kind in kinds:
        if kind not in {k.value for k in AttachmentKind}:
            raise invalid("attachments.kind", "应为 invoice（发票）或 fee_list（费用清单）")
    missing = [ATTACHMENT_KIND_NAMES[k] for k in AttachmentKind if k.value not in kinds]
    if missing:
        raise YidiError("ATTACHMENT_MISSING", {"missing": "、".join(missing)})


_ACCOUNT_NO = re.compile(r"^\d{12,30}$")


def check_bank_account(bank_name: str, account_no: str, account_name: str) -> str:
    """The refund account; returns the account number without spaces."""
    number = re.sub(r"[\s-]", "", account_no or "")
    if not (bank_name or "").strip():
        raise invalid("bank_name", "请填写开户银行")
    if not _ACCOUNT_NO.match(number):
        raise invalid("bank_account", "银行账号应为12–30位数字")
    if not (account_name or "").strip():
        raise invalid("account_name", "请填写账户名")
    return number


def check_decision(status: ClaimStatus, approve: bool, reason: str) -> bool:
    """May a clerk decide a claim now? False = it is already decided the same way (idempotent, nothing to do)."""
    if not approve and not reason.strip():
        raise invalid("reason", "驳回零星报销需填写原因")
    if status is ClaimStatus.SUBMITTED:
        return True
    same = (approve and status in (ClaimStatus.APPROVED, ClaimStatus.PAID)) or \
        (not approve and status is ClaimStatus.REJECTED)
    if same:
        return False
    raise YidiError("CLAIM_ALREADY_DECIDED", {"status": status.value})


def mask_account(number: str) -> str:
    return number[:4] + "*" * max(len(number) - 8, 0) + number[-4:] if len(number) > 8 else number
