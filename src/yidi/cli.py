"""The `yidi` command line (Typer + Rich)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yidi import __version__
from yidi.cli_engine import engine_app, register_demo
from yidi.cli_guard import guard, known_region, parse_day, refuse
from yidi.cli_tables import print_table
from yidi.wording import STATUS_NAMES, for_people, money_text

app = typer.Typer(help="yidi 异地就医直接结算 — cross-region medical-insurance direct settlement", no_args_is_help=True)
db_app = typer.Typer(help="数据库 / database")
scenario_app = typer.Typer(help="场景文件 / scenario files")
policy_app = typer.Typer(help="政策参数 / policy data")
docs_app = typer.Typer(help="生成文档 / generated docs")
filing_app = typer.Typer(help="备案经办 / filing (agency batch work)")
app.add_typer(db_app, name="db")
app.add_typer(scenario_app, name="scenario")
app.add_typer(policy_app, name="policy")
app.add_typer(docs_app, name="docs")
app.add_typer(filing_app, name="filing")
from yidi.cli_filing import register as _register_filing_commands  # noqa: E402

_register_filing_commands(filing_app)
demo_app = typer.Typer(help="演示数据 / demo data", invoke_without_command=True)
app.add_typer(demo_app, name="demo")
app.add_typer(engine_app)  # yidi simulate
register_demo(demo_app)  # yidi demo generate
from yidi.cli_clearing import clearing_app  # noqa: E402
app.add_typer(clearing_app, name="clearing")
from yidi.cli_hospital import hospital_app  # noqa: E402
app.add_typer(hospital_app, name="hospital")
from yidi.cli_ops import ops_app  # noqa: E402
app.add_typer(ops_app, name="ops")
from yidi.cli_audit import audit_app  # noqa: E402
app.add_typer(audit_app, name="audit")
from yidi.cli_federation import federation_app, hub_app, node_app  # noqa: E402
app.add_typer(hub_app, name="hub")
app.add_typer(node_app, name="node")
app.add_typer(federation_app, name="federation")
import yidi.cli_fedclear  # noqa: E402,F401 - adds yidi hub clear / statement / prepay
from yidi.cli_backup import register as _register_backup_commands  # noqa: E402

_register_backup_commands(app)
from yidi.cli_accounts import credential_app, user_app  # noqa: E402

app.add_typer(user_app, name="user")
app.add_typer(credential_app, name="credential")
from yidi.cli_import import import_app  # noqa: E402

app.add_typer(import_app, name="import")

err = Console(stderr=True)
out = Console()
ESTIMATE_LINES = (("medfee_sumamt", "医疗费用总额"), ("fulamt_ownpay_amt", "全自费（目录外）"),
                  ("overlmt_selfpay", "超限价自费"), ("preselfpay_amt", "先行自付（乙类）"),
                  ("inscp_scp_amt", "符合政策范围金额"), ("first_selfpay", "首先自付"), ("act_pay_dedc", "起付标准（本次实际）"),
                  ("hifp_pay", "统筹基金支付"), ("fund_pay_sumamt", "基金支付总额"), ("psn_part_amt", "个人负担"))


def _context(migrate: bool = True):
    from yidi.config import get_settings
    from yidi.services.context import AppContext

    settings = get_settings()
    return AppContext.from_url(settings.database_url, migrate=migrate, demo_mode=settings.demo_mode)


def nats_url() -> str:
    import os

    return os.environ.get("YIDI_NATS_URL", "nats://127.0.0.1:4222")


def _fail(exc) -> None:
    refuse(exc)  # coded, in the person's words, exit 2 (cli_guard)


@app.command()
def version() -> None:
    """版本 / print the version."""
    print(__version__)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          demo: bool = typer.Option(False, help="load the demo data first and accept demo credentials")) -> None:
    """启动服务 / serve the API and pages."""
    import os
    import secrets

    import uvicorn

    # Worker processes inherit this environment: they share one token-signing key (a token issued by one
    # worker must be valid at the next) and split the per-hospital rate limit between them.
    os.environ["YIDI_SERVER_WORKERS"] = str(workers)
    from yidi.config import DEVELOPMENT_SECRET, get_settings, production_problems, secret_text

    missing = production_problems(get_settings())
    if missing:
        err.print("[red]PRODUCTION_CONFIG_MISSING[/red] 生产模式（YIDI_ENV=production）缺少必需的配置：")
        for item in missing:
            err.print(f"  - {item}")
        err.print("请在环境文件中设置后重新启动（docs/operations.md）。")
        raise typer.Exit(2)
    if workers > 1 and secret_text(get_settings().secret_key) in ("", DEVELOPMENT_SECRET):
        err.print("YIDI_SECRET_KEY 未设置：本次启动的各工作进程共用一个随机密钥（重启后登录失效）")
        os.environ["YIDI_SECRET_KEY"] = secrets.token_urlsafe(32)
    _require_free_port(host, port)
    if workers > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _multiprocess_metrics_dir()
    if demo:
        os.environ["YIDI_DEMO_MODE"] = "true"
        _load_demo()
    else:
        _context().engine.dispose()
    from yidi.logs import uvicorn_log_config

    settings = get_settings()
    log_config = uvicorn_log_config(settings.log_json, settings.log_level)  # JSON lines with YIDI_LOG_JSON=true
    uvicorn.run("yidi.api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info",
                **({"log_config": log_config} if log_config else {}))


def _require_free_port(host: str, port: int) -> None:
    """A busy port is a one-line answer naming the option that picks another, not a traceback."""
    import errno
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            err.print(f"[red]端口 {port} 已被占用[/red]（{host}:{port}）：请用 --port 指定其他端口，"
                      f"例如 yidi serve --port {port + 1}，或先停止占用该端口的程序。")
        else:
            err.print(f"[red]无法在 {host}:{port} 上监听[/red]：{exc.strerror}；请用 --host / --port 指定其他地址。")
        raise typer.Exit(2)


def _multiprocess_metrics_dir() -> None:
    """Several workers: prometheus-client's multiprocess mode, in PROMETHEUS_MULTIPROC_DIR (api/metrics.py).
    An operator's folder is emptied (stale files of a previous run would be summed in); else a fresh one."""
    import os
    import tempfile
    from pathlib import Path

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="yidi-metrics-")


def _load_demo() -> None:
    from yidi.services.demo import load_demo

    ctx = _context()
    summary = load_demo(ctx)
    err.print(f"demo data: {summary}")
    ctx.engine.dispose()


@demo_app.callback()
def demo(ctx: typer.Context) -> None:
    """加载演示数据 / load the demo regions, hospitals, persons, filings and users (idempotent)."""
    if ctx.invoked_subcommand is None:
        _load_demo()


@app.command()
def verify(federation: str = typer.Option(None, "--federation", help="a federation id: verify every node and the "
                                          "hub over NATS, and compare both sides per month and province pair"),
           as_json: bool = typer.Option(False, "--json", help="with --federation: the report as JSON")) -> None:
    """核对不变量 / check ledger balance, usage vs settlements, one paid claim per visit, audit chain (seals the audit log first)."""
    from yidi.services.verify import verify as run_verify

    if federation:
        from yidi.cli_fedclear import verify_federated

        raise typer.Exit(verify_federated(federation, None, as_json))

    ctx = _context(migrate=False)
    report = run_verify(ctx)
    for name, state in report.checks.items():
        out.print(f"{'[green]ok[/green]  ' if state == 'ok' else '[red]FAIL[/red]'} {name}: {state}")
    for name, note in report.notes.items():
        out.print(f"      {name}: {note}")
    for problem in report.problems:
        err.print(f"  {problem}")
    raise typer.Exit(0 if report.ok else 1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """迁移数据库到最新版本 / migrate the database (Alembic)."""
    ctx = _context(migrate=True)
    shown = ctx.engine.url.render_as_string(hide_password=True)  # never print a password
    err.print(f"database at head: {shown}")
    ctx.engine.dispose()


@scenario_app.command("run")
def scenario_run(files: list[Path], json_output: bool = typer.Option(True, "--json/--no-json",
                                                                     help="JSON on stdout (default)"),
                 federated: bool = typer.Option(False, "--federated", help="one node per province + the hub, "
                                                "through NATS (YIDI_NATS_URL, default nats://127.0.0.1:4222)")) -> None:
    """运行场景文件 / play scenario files; exit 0 played, 1 mismatch, 2 malformed (or, federated, no NATS)."""
    from yidi.services.scenario import ScenarioFormatError, run_scenario_file

    play = run_scenario_file
    if federated:
        from yidi.federation.bridge import HOW_TO_START, reachable
        from yidi.federation.scenario import run_federated_file

        url = nats_url()
        if not reachable(url):
            err.print(f"[red]无法连接 NATS[/red] {url}。{HOW_TO_START}")
            raise typer.Exit(2)
        play = lambda path: run_federated_file(path, url)  # noqa: E731
    reports = []
    for path in files:
        try:
            reports.append(play(path))
        except ScenarioFormatError as exc:
            err.print(f"[red]malformed scenario[/red] {exc}")
            raise typer.Exit(2)
    documents = [report.to_dict() for report in reports]
    if json_output:
        sys.stdout.write(json.dumps(documents[0] if len(documents) == 1 else documents, ensure_ascii=False, indent=1))
        sys.stdout.write("\n")
    mismatches = [m for report in reports for m in report.mismatches]
    for report in reports:
        failed = len(report.mismatches)
        err.print(f"{'FAIL' if failed else 'ok  '} {report.name} ({len(report.steps)} steps, {failed} mismatches)")
    for mismatch in mismatches:
        err.print(f"[red]mismatch[/red] {mismatch}")
    raise typer.Exit(1 if mismatches else 0)


@policy_app.command("check")
def policy_check(on: Optional[str] = typer.Option(None, help="date YYYY-MM-DD (default today)"),
                 data_dir: Optional[Path] = typer.Option(None, help="a policy data folder to check instead")) -> None:
    """检查政策文件并显示某日生效的参数 / validate policy files and show what is in force."""
    from yidi.policy.loader import DATA_DIR, collect_policy

    from yidi.config import get_settings

    configured = get_settings().policy_dir  # YIDI_POLICY_DIR, when the operator keeps their own folder
    book, problems = collect_policy(data_dir or (Path(configured) if configured else DATA_DIR))
    if problems:
        for problem in problems:
            err.print(f"[red]POLICY_INVALID[/red] {problem}")
        raise typer.Exit(1)
    when = parse_day(on, "on") if on else date.today()
    table = Table(title=f"{when} 生效的参保地政策")
    for column in ("参保地", "政策版本", "职工住院起付线（一/二/三级，元）", "支付比例（一/二/三级）", "年度最高支付（元）",
                   "转诊/急诊/其他临时外出降低（百分点）", "首先自付"):
        table.add_column(column, overflow="fold")
    for region in sorted(book.insured):
        try:
            policy = book.insured_policy(region, when)
        except Exception:
            table.add_row(region, "（未生效）", "", "", "", "", "")
            continue
        inpatient = policy.params.benefits.inpatient.get("310")
        reductions = policy.params.remote.reductions
        table.add_row(
            f"{region} {policy.name}", policy.version_id,
            "/".join(str(v // 100) for v in inpatient.deductible.value.values()) if inpatient else "-",
            "/".join(f"{v / 100:g}%" for v in inpatient.ratio.value.values()) if inpatient else "-",
            str(inpatient.annual_cap.value // 100) if inpatient else "-",
            f"{reductions.referral.value}/{reductions.emergency.value}/{reductions.other_temporary.value}",
            f"{policy.params.remote.first_selfpay.share.value / 100:g}%",
        )
    out.print(table)
    catalogs = ", ".join(f"{code} {book.region_names.get(code, '')}" for code in sorted(book.catalogs))
    out.print(f"就医地目录 / catalogs: {catalogs}")
    out.print("[green]policy OK[/green]")


@policy_app.command("init")
def policy_init(target: Path) -> None:
    """建立运营政策目录 / copy the packaged policy data into TARGET; then set YIDI_POLICY_DIR=TARGET."""
    from yidi.domain.errors import YidiError
    from yidi.services.policy_files import init_policy_dir

    try:
        init_policy_dir(target)
    except YidiError as exc:
        _fail(exc)
    err.print(f"policy folder ready: {target}  (set YIDI_POLICY_DIR={target.resolve()})")


@docs_app.command("errors")
def docs_errors(write: bool = typer.Option(False, help="write docs/errors.md instead of printing")) -> None:
    """错误码文档 / print (or write) docs/errors.md from the code."""
    from yidi.domain.errors import errors_markdown

    text = errors_markdown()
    if write:
        Path("docs/errors.md").write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@app.command()
def estimate(psn_no: str, fixmedins_code: str, med_type: str = "21",
             begntime: str = typer.Option(..., help="YYYY-MM-DD"), endtime: str = typer.Option(..., help="YYYY-MM-DD"),
             item: list[str] = typer.Option(..., help="CODE=YUAN, repeatable"),
             dise_codg: Optional[str] = None) -> None:
    """费用测算 / what will I pay? (nothing is written)."""
    from yidi.domain.errors import YidiError
    from yidi.services.scenario import parse_items
    from yidi.services.settlements import SettleCommand, estimate as estimate_service

    from yidi.domain.errors import invalid
    from yidi.domain.money import MoneyFormatError, yuan_to_fen

    rows = []
    for index, entry in enumerate(item):
        code, sep, amount = entry.partition("=")
        if not sep or not code.strip() or not amount.strip():
            raise invalid(f"items[{index}].amount", f"“{entry}”应写成 编码=金额，如 X007=8000")
        try:
            yuan_to_fen(amount.strip())
        except MoneyFormatError:
            raise invalid(f"items[{index}].amount", f"“{amount.strip()}”不是金额，请填写数字，最多两位小数") from None
        rows.append({"code": code.strip(), "amount": amount.strip()})
    begin, end = parse_day(begntime, "begntime"), parse_day(endtime, "endtime")
    if end < begin:
        raise invalid("endtime", f"出院日期 {end} 早于入院（就诊）日期 {begin}，请核对")
    ctx = _context()
    try:
        result = estimate_service(ctx, SettleCommand(psn_no=psn_no, fixmedins_code=fixmedins_code, med_type=med_type,
                                                     begntime=begin, endtime=end, items=parse_items(rows),
                                                     dise_codg=dise_codg))
    except YidiError as exc:
        _fail(exc)
    finally:
        ctx.engine.dispose()
    table = Table(title="费用测算（不产生结算记录）")
    table.add_column("项目")
    table.add_column("金额（元）", justify="right")
    for key, name in ESTIMATE_LINES:
        table.add_row(name, money_text(result[key]))
    out.print(table)
    for step in result["trace"]:
        out.print(f"  {escape(step['explanation'])}  [dim]（规则 {step['rule']}，政策 {step['policy_version']}）[/dim]")


@filing_app.command("pending")
def filing_pending(region: str = typer.Option(..., help="insured region admdvs")) -> None:
    """待审核备案（含办结期限）/ pending filings with due dates."""
    from yidi.services.filings import pending_queue

    from yidi.domain.filing import TYPE_NAMES
    from yidi.services.directory import person_names, region_names

    ctx = _context()
    known_region(ctx, region)
    regions = region_names(ctx)
    filings = pending_queue(ctx, region)  # oldest application first
    names = person_names(ctx, [f.psn_no for f in filings])
    print_table(out, f"{regions.get(region, region)} 待审核备案（{len(filings)} 条）",
                ["备案号", "人员编号", "姓名", "备案类型", "就医地", "申请日期", "审核期限"],
                [[f.filing_id, f.psn_no, names.get(f.psn_no, ""), TYPE_NAMES[f.filing_type],
                  regions.get(f.mdtrtarea_admvs, f.mdtrtarea_admvs), f.apply_date.isoformat(),
                  str(f.approve_due_date or "")] for f in filings],
                ids=("备案号", "人员编号", "申请日期", "审核期限"))
    ctx.engine.dispose()


@filing_app.command("decide")
def filing_decide(filing_ids: list[str], approve: bool = typer.Option(True, "--approve/--reject"),
                  reason: str = "", clerk: str = typer.Option("cli-clerk")) -> None:
    """批量审核 / approve or reject filings in a batch."""
    from yidi.domain.errors import YidiError
    from yidi.services.filings import decide_filing

    ctx = _context()
    failures = 0
    for filing_id in filing_ids:
        try:
            filing = decide_filing(ctx, filing_id, approve=approve, actor=clerk, on=date.today(), reason=reason)
            out.print(f"{filing.filing_id} → {STATUS_NAMES.get(filing.status.value, filing.status.value)}")
        except YidiError as exc:
            failures += 1
            shown = for_people(exc)
            err.print(f"{filing_id}: [red]{shown.code}[/red] {escape(shown.message)}。{escape(shown.hint)}")
    raise typer.Exit(1 if failures else 0)


guard(app)  # every command: a coded Chinese line and exit 2 instead of a traceback

if __name__ == "__main__":  # pragma: no cover
    app()
