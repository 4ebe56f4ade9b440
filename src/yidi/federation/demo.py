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
from pathlib import Path

import yaml

from yidi.adapters.orm import PersonRow
from yidi.services.context import AppContext
from yidi.services.demo import add_filings, add_users
from yidi.services.reference import DEMO_DATA

PROVINCES = {"11": "北京", "31": "上海", "37": "山东", "41": "河南", "42": "湖北"}


def port_of(province: str, base: int = 8000) -> int:
    return base + int(province)


def load_node_demo(ctx: AppContext, province: str) -> dict:
    """The baseline's persons insured in ``province``, their filings and the users of the province (idempotent)."""
    data = yaml.safe_load(DEMO_DATA.read_text(encoding="utf-8"))
    mine = [p for p in data["persons"] if p["insuplc_admdvs"][:2] == province]
    psn_nos = {p["psn_no"] for p in mine}
    with ctx.unit_of_work() as session:
        for person in mine:
            session.merge(PersonRow(**person))
    users = []
    for user in data.get("users", []):
        if user["role"] == "supervisor":  # a node's supervisor oversees what the node owns: its province
            users.append(user | {"admdvs": f"{province}0000"})
        elif (user.get("admdvs") or "")[:2] == province:
            users.append(user)
    add_users(ctx, users)
    add_filings(ctx, [entry for entry in data.get("filings", []) if entry["psn_no"] in psn_nos])
    return {"persons": len(mine), "users": len(users)}


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
        stop_all(children)
    failed = [child.returncode for child in children if child.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed and not stop else 0


def stop_all(children: list[subprocess.Popen], timeout: float = 20) -> None:
    """SIGTERM to each (a node drains its NATS connection and ends its HTTP server), SIGKILL to a straggler."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
