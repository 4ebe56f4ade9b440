"""The local demo federation: the hub and the five province nodes of the reference data, each its own process,
port and SQLite database, all on the local NATS server. ``yidi federation demo`` runs it; Ctrl-C stops it.

Node ``NN`` (province code) serves the hospital interface, the API and the pages on port ``80NN``:
北京 11 → 8011, 上海 31 → 8031, 山东 37 → 8037, 河南 41 → 8041, 湖北 42 → 8042. Its demo data is the part of the
baseline that belongs to it: persons insured in the province and their filings, its hospitals' demo keys, the
clerks and desks of its regions, and a supervisor scoped to the province (so the pages show the node's own persons,
never the desk copies of visiting persons insured elsewhere).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from sqlalchemy import select

from yidi.adapters.orm import FilingRow, PersonRow, UserRow
from yidi.services.context import AppContext
from yidi.services.filings import FileCommand, decide_filing, file_filing
from yidi.services.reference import DEMO_DATA

PROVINCES = {"11": "北京", "31": "上海", "37": "山东", "41": "河南", "42": "湖北"}


def port_of(province: str, base: int = 8000) -> int:
    return base + int(province)


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def load_node_demo(ctx: AppContext, province: str) -> dict:
    """The baseline's persons insured in ``province``, their filings and the users of the province (idempotent)."""
    data = yaml.safe_load(DEMO_DATA.read_text(encoding="utf-8"))
    mine = [p for p in data["persons"] if p["insuplc_admdvs"][:2] == province]
    psn_nos = {p["psn_no"] for p in mine}
    hasher = PasswordHasher()
    with ctx.unit_of_work() as session:
        for person in mine:
            session.merge(PersonRow(**person))
        have_filings = set(session.scalars(select(FilingRow.psn_no)))
        for user in data.get("users", []):
            scope = user.get("admdvs")
            if user["role"] == "supervisor":  # a node's supervisor oversees what the node owns: its province
                scope = f"{province}0000"
            elif not (scope and scope[:2] == province):
                continue
            if session.get(UserRow, user["username"]) is None:
                session.add(UserRow(username=user["username"], password_hash=hasher.hash(user["password"]),
                                    role=user["role"], admdvs=scope, psn_no=user.get("psn_no"),
                                    fixmedins_code=user.get("fixmedins_code"),
                                    display_name=user.get("display_name", "")))
    for entry in data.get("filings", []):
        if entry["psn_no"] not in psn_nos or entry["psn_no"] in have_filings:
            continue
        filing = file_filing(ctx, FileCommand(
            psn_no=entry["psn_no"], filing_type=entry["type"], basis=entry["basis"],
            mdtrtarea_admvs=entry["mdtrtarea_admvs"], begndate=_day(entry["begndate"]),
            apply_date=_day(entry["apply_date"]), channel=entry.get("channel", "window"),
            commitment_signature=entry["psn_no"], actor="demo"))
        if filing.status.value == "pending":
            decide_filing(ctx, filing.filing_id, approve=True, actor="demo", on=filing.apply_date)
    return {"persons": len(mine)}


def run(folder: Path, nats_url: str, *, host: str = "127.0.0.1", base_port: int = 8000) -> int:
    """Start the hub, then one node per province, as child processes of this one; stop them all on Ctrl-C or
    when one of them ends. Returns the exit code."""
    folder.mkdir(parents=True, exist_ok=True)
    yidi = [sys.executable, "-m", "yidi.cli"]
    env = os.environ | {"YIDI_NATS_URL": nats_url, "YIDI_DEMO_MODE": "true"}
    children: list[subprocess.Popen] = []

    def start(*args: str) -> None:
        children.append(subprocess.Popen([*yidi, *args], env=env))

    start("hub", "serve", "--demo", "--database-url", f"sqlite:///{folder}/hub.db")
    for province in PROVINCES:
        start("node", "serve", "--province", province, "--demo", "--host", host,
              "--port", str(port_of(province, base_port)), "--database-url", f"sqlite:///{folder}/node-{province}.db")
    stop = False

    def on_signal(*_args) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [child.returncode for child in children if child.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed and not stop else 0
