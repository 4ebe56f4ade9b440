"""Real processes for the federation fault tests (issue 17): ``yidi hub serve`` and ``yidi node serve --province NN``
as subprocesses (each its own SQLite database and free port, a unique federation id), which a test kills with
SIGKILL and starts again; and, for the NATS outage, a private ``nats-server`` (Debian's) on a free port with its
own store directory — the machine's NATS at 127.0.0.1:4222 is shared by everyone and is never stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import IN_CI
from tests.support.live_server import free_port
from yidi.adapters.orm import MessageRow, SettlementRow, UsageRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.client import HospitalClient, fee_row
from yidi.federation.bridge import Bridge, reachable
from yidi.federation.subjects import Names
from yidi.services import ledger
from yidi.services.context import AppContext

BEIJING = "H11000000001"  # 协和: a 北京 hospital (node 11); 张三 P001 is insured in 焦作 (node 41)
TIMEOUT = 4  # seconds a treatment node waits for the insured node (YIDI_FEDERATION_TIMEOUT_SECONDS)


def _wait(condition, what: str, seconds: float = 120.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process ended with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.2)


class NatsServer:
    """A private nats-server with JetStream, killed and restarted by the test (same port, same store)."""

    def __init__(self, folder: Path):
        binary = shutil.which("nats-server")
        if binary is None:
            message = "the NATS fault test needs the nats-server binary (Debian: apt-get install nats-server)"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        self.binary = binary
        self.port = free_port()
        self.store = folder / "nats-store"
        self.log = folder / "nats-server.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> "NatsServer":
        with open(self.log, "a") as sink:
            self.process = subprocess.Popen([self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                                             "-sd", str(self.store)], stdout=sink, stderr=sink)
        _wait(lambda: reachable(self.url, 0.5), "nats-server", 30, self.process)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@dataclass
class Role:
    args: list[str]
    log: Path
    port: int | None = None  # HTTP port of a node (kept across restarts)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Federation:
    """The hub and two province nodes (北京 11, 河南 41) as ``yidi`` processes on ``nats_url``."""

    nats_url: str
    folder: Path
    provinces: tuple[str, ...] = ("11", "41")
    federation: str = field(default_factory=lambda: f"f{uuid.uuid4().hex[:10]}")
    roles: dict[str, Role] = field(default_factory=dict)

    def __post_init__(self) -> None:
        common = ["--demo", "--federation", self.federation, "--nats-url", self.nats_url]
        self.roles["hub"] = Role(["hub", "serve", *common, "--database-url", f"sqlite:///{self.folder}/hub.db"],
                                 self.folder / "hub.log")
        for province in self.provinces:
            port = free_port()
            self.roles[province] = Role(["node", "serve", "--province", province, "--port", str(port), *common,
                                         "--database-url", f"sqlite:///{self.db(province)}"],
                                        self.folder / f"node-{province}.log", port)

    def db(self, role: str) -> Path:
        return self.folder / (f"node-{role}.db" if role != "hub" else "hub.db")

    def start(self, role: str, **env: str) -> None:
        """Start (or start again) ``role``; ``env``: extra environment, e.g. the fault hooks."""
        spec = self.roles[role]
        environment = os.environ | {"YIDI_DEMO_MODE": "true", "YIDI_LOG_LEVEL": "INFO",
                                    "YIDI_FEDERATION_TIMEOUT_SECONDS": str(TIMEOUT)} | env
        with open(spec.log, "a") as sink:
            sink.write(f"\n===== start {role} {env} =====\n")
            sink.flush()
            spec.process = subprocess.Popen([sys.executable, "-m", "yidi.cli", *spec.args], env=environment,
                                            stdout=sink, stderr=sink)
        if spec.port is not None:
            _wait(lambda: self._healthy(spec), f"node {role}", 120, spec.process)
        else:  # the hub serves no HTTP: it is up when it answers on NATS
            _wait(lambda: self._hub_answers(), "hub", 120, spec.process)

    def start_all(self, env: dict[str, dict[str, str]] | None = None) -> "Federation":
        """The hub, then each node; ``env``: extra environment per role."""
        env = env or {}
        self.start("hub", **env.get("hub", {}))
        for province in self.provinces:
            self.start(province, **env.get(province, {}))
        return self

    def kill(self, role: str) -> None:
        """SIGKILL: no shutdown handlers, no flush, no NATS drain — a power cut or the OOM killer."""
        process = self.roles[role].process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

    def wait_dead(self, role: str, seconds: float = 60) -> None:
        process = self.roles[role].process
        _wait(lambda: process.poll() is not None, f"{role} to end", seconds)

    def ready(self, role: str) -> bool:
        """The node's readiness probe: its database and its NATS connection."""
        try:
            return httpx.get(f"{self.roles[role].url}/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    @staticmethod
    def _healthy(spec: Role) -> bool:
        try:
            return httpx.get(f"{spec.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _hub_answers(self) -> bool:
        try:
            bridge = Bridge(self.nats_url, name="probe")
        except Exception:  # noqa: BLE001 - NATS not there (yet)
            return False
        try:
            answer = bridge.request(Names(self.federation).hub("locate"), {"psn_no": "-"}, timeout=1)
            return "error" in answer  # UNKNOWN_PERSON: the hub answers
        except Exception:  # noqa: BLE001 - no responders yet
            return False
        finally:
            bridge.close()

    def stop(self) -> None:
        for spec in self.roles.values():
            if spec.process is not None and spec.process.poll() is None:
                spec.process.terminate()
        for spec in self.roles.values():
            if spec.process is not None:
                try:
                    spec.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    spec.process.kill()
                    spec.process.wait(timeout=20)

    def cleanup_nats(self) -> None:
        """Delete what this federation created on the (shared) NATS server."""
        if not reachable(self.nats_url):
            return
        names = Names(self.federation)
        bridge = Bridge(self.nats_url, name="cleanup")
        try:
            for delete in (lambda: bridge.delete_bucket(names.registry_bucket),
                           lambda: bridge.run(bridge.js.delete_stream(names.deferred_stream))):
                try:
                    delete()
                except Exception:  # noqa: BLE001 - not created
                    pass
        finally:
            bridge.close()

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for role, spec in self.roles.items():
            if spec.log.exists():
                out.append(f"--- {role} ---\n" + "\n".join(spec.log.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)

    def his(self, timeout: float = 30.0) -> HospitalClient:
        return HospitalClient(self.roles["11"].url, f"demo-{BEIJING}", f"demo-secret-{BEIJING}", BEIJING,
                              timeout=timeout)

    def context(self, role: str) -> AppContext:
        return AppContext.from_url(f"sqlite:///{self.db(role)}", migrate=False)


def ok(answer: dict) -> dict:
    assert answer["infcode"] == 0, answer["err_msg"]
    return answer["output"]


def prepare_stays(his: HospitalClient, count: int, first_month: int = 2) -> list[tuple[str, str]]:
    """``count`` inpatient stays of 张三 at 协和 (2401, 2301, 2402), ready for 2304: [(mdtrt_id, endtime)]."""
    stays = []
    for n in range(count):
        day = f"2023-{first_month + n // 14:02d}-{1 + 2 * (n % 14):02d}"
        mdtrt_id = ok(his.admit("P001", "21", day, insutype="310"))["result"]["mdtrt_id"]
        ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X004", "3000.00", cnt=1, pric="3000.00")]))
        ok(his.discharge(mdtrt_id, day))
        stays.append((mdtrt_id, day))
    return stays


DOUBT_CODES = ("SERVICE_UNAVAILABLE", "NATS_UNAVAILABLE")  # the coded answers a fault may give a 2304


@dataclass
class Ledger:
    """What the HIS knows: the successes it saw, and the messages in doubt (no answer, or a coded refusal)."""

    seen: dict[str, str] = field(default_factory=dict)  # msgid → setl_id the HIS was told
    doubts: dict[str, tuple[str, str]] = field(default_factory=dict)  # msgid → (mdtrt_id, endtime)
    reversed: dict[str, str] = field(default_factory=dict)  # msgid → "reversed" / "never_processed" (2601)
    answers: list[str] = field(default_factory=list)  # the coded answers met, for the report

    def settle(self, his: HospitalClient, mdtrt_id: str, endtime: str, msgid: str | None = None) -> str:
        msgid = msgid or his.new_msgid()
        try:
            answer = his.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)
        except httpx.HTTPError:
            self.doubts[msgid] = (mdtrt_id, endtime)
            return msgid
        if answer["infcode"] == 0:
            self.seen[msgid] = answer["output"]["setlinfo"]["setl_id"]
            self.doubts.pop(msgid, None)
        else:
            assert answer["err_msg"].startswith(DOUBT_CODES), answer["err_msg"]  # coded, in Chinese
            self.answers.append(answer["err_msg"])
            self.doubts[msgid] = (mdtrt_id, endtime)
        return msgid

    def resend_doubts(self, his: HospitalClient, seconds: float = 180.0) -> None:
        """Resend every message in doubt with its own msgid until each has its answer."""
        deadline = time.monotonic() + seconds
        while self.doubts:
            for msgid, (mdtrt_id, endtime) in list(self.doubts.items()):
                self.settle(his, mdtrt_id, endtime, msgid)
            if self.doubts:
                assert time.monotonic() < deadline, f"still in doubt: {self.doubts} {self.answers[-3:]}"
                time.sleep(1)

    def reverse(self, his: HospitalClient, msgid: str, psn_no: str = "P001") -> str:
        result = ok(his.reverse(msgid, "2304", psn_no))["result"]["rslt"]
        self.reversed[msgid] = result
        self.doubts.pop(msgid, None)
        return result


def assert_exactly_once(fed: Federation, book: Ledger) -> None:
    """Every success the HIS saw exists exactly once on both sides (the insured node's settlement, the treatment
    node's record and stored answer); every 2601'd one is reversed on both sides or exists nowhere; nothing else
    exists on either side; the insured node's usage and ledger agree with its settlements."""
    insured, treatment = fed.context("41"), fed.context("11")
    try:
        with insured.unit_of_work() as session:
            rows = session.execute(select(SettlementRow.setl_id, SettlementRow.msgid, SettlementRow.status,
                                          SettlementRow.hifp_pay)).all()
            used = session.scalar(select(func.coalesce(func.sum(UsageRow.used_fen), 0))
                                  .where(UsageRow.psn_no == "P001"))
            assert ledger.trial_balance(session) == 0 and not ledger.unbalanced_entries(session)
        with treatment.unit_of_work() as session:
            records = session.execute(select(TreatmentSettlementRow.setl_id, TreatmentSettlementRow.request_id,
                                             TreatmentSettlementRow.status)).all()
            stored = {m.msgid: m.infno for m in session.scalars(select(MessageRow).where(MessageRow.infno == "2304"))}
    finally:
        insured.engine.dispose()
        treatment.engine.dispose()
    reversed_ids = {msgid for msgid, result in book.reversed.items() if result == "reversed"}
    expected = {msgid: "settled" for msgid in book.seen} | {msgid: "reversed" for msgid in reversed_ids}
    on_insured = {msgid: status for _setl, msgid, status, _pay in rows}
    assert len(on_insured) == len(rows), "a msgid settled twice at the insured node"
    assert on_insured == expected, (on_insured, expected)
    on_treatment = {request_id: status for _setl, request_id, status in records}
    assert len(on_treatment) == len(records)
    assert on_treatment == expected, (on_treatment, expected)
    assert {setl for setl, *_ in rows} == {setl for setl, *_ in records}  # the same settlements on both sides
    for msgid, setl_id in book.seen.items():  # …under the ids the HIS was told, with its answer stored
        assert (msgid, setl_id) in {(m, s) for s, m, *_ in rows} and msgid in stored
    assert used == sum(pay for _s, _m, status, pay in rows if status == "settled")
