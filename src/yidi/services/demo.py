"""Load the demo data (`yidi demo`, `make run`): reference data, demo filings and demo users. Idempotent."""

from __future__ import annotations

from datetime import date
from typing import Any

import yaml
from argon2 import PasswordHasher
from sqlalchemy import select

from yidi.adapters.orm import FilingRow, UserRow
from yidi.services import pharmacy
from yidi.services.context import AppContext
from yidi.services.filings import FileCommand, decide_filing, file_filing
from yidi.services.reference import DEMO_DATA, load_reference


def load_demo(ctx: AppContext) -> dict[str, Any]:
    data = load_reference(ctx, persons=True)
    add_users(ctx, data.get("users", []))
    created_filings = add_filings(ctx, data.get("filings", []))
    recognized = add_recognitions(ctx, data.get("special_drug_recognitions", []))
    return {"regions": len(data["regions"]), "institutions": len(data["institutions"]),
            "persons": len(data["persons"]), "filings_created": created_filings, "users": len(data.get("users", [])),
            "special_drug_recognitions_created": recognized}


def add_recognitions(ctx: AppContext, entries: list[dict[str, Any]]) -> int:
    """The demo 特药待遇认定 (reference.yaml ``special_drug_recognitions``) of persons who have none for the drug yet."""
    created = 0
    for entry in entries:
        if any(r.med_list_codg == entry["drug"] for r in pharmacy.recognitions(ctx, entry["psn_no"])):
            continue
        pharmacy.recognize(ctx, psn_no=entry["psn_no"], med_list_codg=entry["drug"], fixmedins_code=entry["hospital"],
                           doctor_code=entry["doctor"], begndate=_d(entry["begndate"]),
                           dise_codg=entry.get("dise_codg", ""), actor="demo")
        created += 1
    return created


def add_users(ctx: AppContext, users: list[dict[str, Any]]) -> None:
    """The demo users that do not exist yet (reference.yaml ``users``)."""
    hasher = PasswordHasher()
    with ctx.unit_of_work() as session:
        for user in users:
            if session.get(UserRow, user["username"]) is None:
                session.add(UserRow(username=user["username"], password_hash=hasher.hash(user["password"]),
                                    role=user["role"], admdvs=user.get("admdvs"), psn_no=user.get("psn_no"),
                                    fixmedins_code=user.get("fixmedins_code"),
                                    display_name=user.get("display_name", "")))


def add_filings(ctx: AppContext, entries: list[dict[str, Any]]) -> int:
    """The demo filings (reference.yaml ``filings``) of persons who have none yet, approved on their apply date."""
    with ctx.unit_of_work() as session:
        have_filings = set(session.scalars(select(FilingRow.psn_no)))
    created = 0
    for entry in entries:
        if entry["psn_no"] in have_filings:
            continue
        filing = file_filing(ctx, FileCommand(
            psn_no=entry["psn_no"], filing_type=entry["type"], basis=entry["basis"],
            mdtrtarea_admvs=entry["mdtrtarea_admvs"], begndate=_d(entry["begndate"]),
            apply_date=_d(entry["apply_date"]), channel=entry.get("channel", "window"),
            commitment_signature=entry["psn_no"], actor="demo"))
        if filing.status.value == "pending":
            decide_filing(ctx, filing.filing_id, approve=True, actor="demo", on=filing.apply_date)
        created += 1
    return created


def _d(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


__all__ = ["load_demo", "DEMO_DATA", "yaml"]
