"""`yidi hospital …`: the interface's curl (`call`) and a day of a hospital's traffic (`simulate`).

Both sign with the demo credentials (access key ``demo-<fixmedins_code>``, secret
``demo-secret-<fixmedins_code>``), which the server accepts only in demo mode (YIDI_DEMO_MODE=true).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from yidi.client import HospitalClient, fee_row

hospital_app = typer.Typer(help="医院接口 / hospital interface (HIS side)", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

DEFAULT_URL = "http://127.0.0.1:8000"


def demo_client(url: str, fixmedins_code: str) -> HospitalClient:
    return HospitalClient(url, f"demo-{fixmedins_code}", f"demo-secret-{fixmedins_code}", fixmedins_code)


@hospital_app.command("call")
def call(infno: str, file: Path = typer.Argument(..., help="input JSON, or a whole envelope with infno/input"),
         fixmedins: str = typer.Option("H11000000001", "--fixmedins", help="定点医药机构编码"),
         url: str = typer.Option(DEFAULT_URL, "--url")) -> None:
    """签名并发送一笔交易，打印应答 / sign one transaction with demo credentials, send it, print the answer."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        err.print(f"[red]无法读取 {file}[/red]: {exc}")
        raise typer.Exit(2)
    client = demo_client(url, fixmedins)
    if isinstance(data, dict) and "input" in data and "infno" in data:
        envelope = client.envelope(infno, data["input"])
        envelope.update({k: v for k, v in data.items() if k not in ("input", "infno") and v not in (None, "")})
        envelope["infno"] = infno
    else:
        envelope = client.envelope(infno, data)
    try:
        response = client.send(envelope)
    except Exception as exc:  # noqa: BLE001 - connection problems are reported, not raised
        err.print(f"[red]发送失败[/red] {url}: {exc}")
        raise typer.Exit(2)
    out.print_json(json.dumps(response, ensure_ascii=False))
    raise typer.Exit(0 if response.get("infcode") == 0 else 1)


# A day in three hospitals of the demo data: (hospital, person, kind). Unfiled people are part of a real day.
DAY_PLAN = [
    ("H11000000001", "P001", "stay"),       # 焦作退休 in 北京协和 (filed)
    ("H11000000001", "P001", "outpatient"),
    ("H11000000001", "P002", "stay"),       # 德州职工 without a filing for 北京: refused, coded
    ("H31000000001", "P003", "dialysis"),   # 武汉职工 in 上海瑞金, 门诊慢特病 N18 (filed)
    ("H41010000001", "P004", "stay"),       # 焦作居民 referred to 郑州 (filed)
]


def _outcome(counter: Counter, label: str, response: dict) -> dict | None:
    if response.get("infcode") == 0:
        counter[(label, "ok")] += 1
        return response["output"]
    counter[(label, response.get("err_msg", "").split("：", 1)[0] or "ERROR")] += 1
    return None


def _stay(client: HospitalClient, psn_no: str, day: date, counter: Counter, rng: random.Random) -> None:
    admitted = _outcome(counter, "2401 入院", client.admit(psn_no, "21", day.isoformat()))
    if not admitted:
        return
    mdtrt_id = admitted["result"]["mdtrt_id"]
    rows = [fee_row(mdtrt_id, "1", "X007", f"{rng.choice([3000, 8000, 12000])}.00"),
            fee_row(mdtrt_id, "2", "X004", "400.00", cnt=rng.randint(2, 12), pric="40.00"),
            fee_row(mdtrt_id, "3", "X006", "350.00"), fee_row(mdtrt_id, "4", "X005", "120.00")]
    rows[1]["det_item_fee_sumamt"] = f"{int(rows[1]['cnt']) * 40}.00"
    if not _outcome(counter, "2301 费用上传", client.upload_inpatient_fees(rows)):
        return
    end = (day + timedelta(days=rng.randint(2, 9))).isoformat()
    if not _outcome(counter, "2303 预结算", client.presettle_inpatient(mdtrt_id, endtime=end)):
        client.cancel_admission(mdtrt_id)  # refused: the person pays and may claim online (S4)
        return
    settled = _outcome(counter, "2304 结算", client.settle_inpatient(mdtrt_id, endtime=end))
    if settled and rng.random() < 0.1:
        _outcome(counter, "2305 结算撤销", client.cancel_inpatient_settlement(settled["setlinfo"]["setl_id"], mdtrt_id))


def _outpatient(client: HospitalClient, psn_no: str, day: date, counter: Counter, rng: random.Random,
                med_type: str = "11", dise_codg: str = "", items: tuple = ("X001", "X003", "X006")) -> None:
    registered = _outcome(counter, "2201 挂号", client.register_outpatient(psn_no, day.isoformat()))
    if not registered:
        return
    mdtrt_id = registered["data"]["mdtrt_id"]
    if not _outcome(counter, "2203 就诊信息", client.outpatient_info(mdtrt_id, med_type, dise_codg)):
        return
    rows = [fee_row(mdtrt_id, str(n), code, f"{rng.randint(20, 4000)}.00") for n, code in enumerate(items, 1)]
    if not _outcome(counter, "2204 费用上传", client.upload_outpatient_fees(rows)):
        return
    if not _outcome(counter, "2206 预结算", client.presettle_outpatient(mdtrt_id)):
        client.cancel_outpatient(mdtrt_id)
        return
    settled = _outcome(counter, "2207 结算", client.settle_outpatient(mdtrt_id))
    if settled and rng.random() < 0.05:
        _outcome(counter, "2208 结算撤销", client.cancel_outpatient_settlement(settled["setlinfo"]["setl_id"], mdtrt_id))


@hospital_app.command("simulate")
def simulate(url: str = typer.Option(DEFAULT_URL, "--url"),
             visits: int = typer.Option(200, help="number of visits in the day"),
             seed: int = typer.Option(0, help="random seed (0 = a new day each run)")) -> None:
    """模拟一天的医院交易 / drive a realistic day of hospital traffic against a running server (demo mode)."""
    rng = random.Random(seed or None)
    clients = {code: demo_client(url, code) for code, _, _ in DAY_PLAN}
    counter: Counter = Counter()
    base = date(2023, 1, 1) + timedelta(days=rng.randint(0, 3000))  # a fresh stretch of dates per run
    try:
        for client in clients.values():
            _outcome(counter, "9001 签到", client.sign_in())
        with Progress(console=err) as progress:
            task = progress.add_task("模拟医院交易", total=visits)
            for n in range(visits):
                code, psn_no, kind = rng.choice(DAY_PLAN)
                day = base + timedelta(days=n)
                if kind == "stay":
                    _stay(clients[code], psn_no, day, counter, rng)
                elif kind == "dialysis":
                    _outpatient(clients[code], psn_no, day, counter, rng, "14", "N18", ("X008",))
                else:
                    _outpatient(clients[code], psn_no, day, counter, rng)
                progress.advance(task)
    except Exception as exc:  # noqa: BLE001
        err.print(f"[red]连接失败[/red] {url}: {exc}（服务是否以演示模式运行？yidi serve --demo）")
        raise typer.Exit(2)
    table = Table(title=f"模拟结果（{visits} 次就诊）")
    table.add_column("交易")
    table.add_column("结果")
    table.add_column("笔数", justify="right")
    for (label, outcome), count in sorted(counter.items()):
        table.add_row(label, outcome, str(count))
    out.print(table)
