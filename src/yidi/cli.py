"""The `yidi` command line (Typer + Rich)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from yidi import __version__
from yidi.cli_engine import engine_app, register_demo

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
from yidi.cli_user import user_app  # noqa: E402
app.add_typer(user_app, name="user")

err = Console(stderr=True)
out = Console()


def _context(migrate: bool = True):
    from yidi.config import get_settings
    from yidi.services.context import AppContext

    settings = get_settings()
    return AppContext.from_url(settings.database_url, migrate=migrate, demo_mode=settings.demo_mode)


def _fail(exc) -> None:
    err.print(f"[red]{exc.code}[/red] {exc.full_message()}")
    raise typer.Exit(1)


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
    from yidi.config import Settings, get_settings

    if workers > 1 and get_settings().secret_key == Settings.model_fields["secret_key"].default:
        err.print("YIDI_SECRET_KEY 未设置：本次启动的各工作进程共用一个随机密钥（重启后登录失效）")
        os.environ["YIDI_SECRET_KEY"] = secrets.token_urlsafe(32)
    if demo:
        os.environ["YIDI_DEMO_MODE"] = "true"
        _load_demo()
    else:
        _context().engine.dispose()
    uvicorn.run("yidi.api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")


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
def verify() -> None:
    """核对不变量 / check ledger balance, usage vs settlements, one paid claim per visit, audit chain (seals the audit log first)."""
    from yidi.services.verify import verify as run_verify

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
    from yidi.config import get_settings

    ctx = _context(migrate=True)
    err.print(f"database at head: {get_settings().database_url}")
    ctx.engine.dispose()


@scenario_app.command("run")
def scenario_run(files: list[Path], json_output: bool = typer.Option(True, "--json/--no-json",
                                                                     help="JSON on stdout (default)")) -> None:
    """运行场景文件 / play scenario files; exit 0 played, 1 mismatch, 2 malformed."""
    from yidi.services.scenario import ScenarioFormatError, run_scenario_file

    reports = []
    for path in files:
        try:
            reports.append(run_scenario_file(path))
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

    book, problems = collect_policy(data_dir or DATA_DIR)
    if problems:
        for problem in problems:
            err.print(f"[red]POLICY_INVALID[/red] {problem}")
        raise typer.Exit(1)
    when = date.fromisoformat(on) if on else date.today()
    table = Table(title=f"在 {when} 生效的参保地政策 / insured-region policy in force")
    for column in ("region", "version", "inpatient 310 deductible L1/L2/L3", "ratio L1/L2/L3", "cap",
                   "referral/emergency/other (pp)", "首先自付"):
        table.add_column(column)
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

    ctx = _context()
    try:
        items = parse_items([{"code": entry.split("=", 1)[0], "amount": entry.split("=", 1)[1]} for entry in item])
        result = estimate_service(ctx, SettleCommand(psn_no=psn_no, fixmedins_code=fixmedins_code, med_type=med_type,
                                                     begntime=date.fromisoformat(begntime),
                                                     endtime=date.fromisoformat(endtime), items=items,
                                                     dise_codg=dise_codg))
    except YidiError as exc:
        _fail(exc)
    table = Table(title="费用测算 / estimate")
    table.add_column("项目")
    table.add_column("金额（元）", justify="right")
    for key in ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                "first_selfpay", "act_pay_dedc", "hifp_pay", "psn_part_amt"):
        table.add_row(key, result[key])
    out.print(table)
    for step in result["trace"]:
        out.print(f"  [{step['rule']}] {step['explanation']}  ({step['policy_version']})")


@filing_app.command("pending")
def filing_pending(region: str = typer.Option(..., help="insured region admdvs")) -> None:
    """待审核备案（含办结期限）/ pending filings with due dates."""
    from yidi.services.filings import pending_queue

    ctx = _context()
    table = Table(title=f"{region} 待审核备案")
    for column in ("filing_id", "psn_no", "type", "mdtrtarea", "apply_date", "due"):
        table.add_column(column)
    for filing in pending_queue(ctx, region):  # oldest application first
        table.add_row(filing.filing_id, filing.psn_no, filing.filing_type.value, filing.mdtrtarea_admvs,
                      filing.apply_date.isoformat(), str(filing.approve_due_date))
    out.print(table)


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
            out.print(f"{filing.filing_id} → {filing.status.value}")
        except YidiError as exc:
            failures += 1
            err.print(f"{filing_id}: {exc.code} {exc.full_message()}")
    raise typer.Exit(1 if failures else 0)


if __name__ == "__main__":  # pragma: no cover
    app()
