"""`yidi simulate` and `yidi demo generate`: the batch engine on the command line (Typer + Rich)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from yidi.domain.errors import YidiError
from yidi.domain.money import fen_to_yuan

engine_app = typer.Typer(help="批量引擎 / batch engine: policy simulation")
err = Console(stderr=True)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err)


@engine_app.command("simulate")
def simulate(
    policy_change: Path = typer.Option(..., "--policy-change", help="政策变更 YAML（与 policy/data/insured 同格式）"),
    claims: Path = typer.Option(..., "--claims", help="理赔 Parquet（yidi demo generate 生成）"),
    out_dir: Path = typer.Option(Path("simulation"), "--out-dir", help="CSV 与 SVG 图表的输出目录"),
) -> None:
    """政策测算 / re-price a claims file under a policy change: fund and personal totals, CSV and SVG chart."""
    from yidi.engine.io import read_claims
    from yidi.engine.overlay import book_with_overlay
    from yidi.engine.simulate import simulate as run, svg_chart, write_csv
    from yidi.engine.tables import PolicyTables
    from yidi.cli_guard import readable, writable
    from yidi.policy.loader import load_policy_book

    readable(policy_change), readable(claims), writable(out_dir, directory=True)  # before any work
    try:
        with _progress() as progress:
            task = progress.add_task("读取政策 / loading policy", total=None)
            book = load_policy_book()
            baseline, changed = PolicyTables.from_book(book), PolicyTables.from_book(book_with_overlay(policy_change))
            progress.update(task, description="读取理赔 / reading claims")
            claim_table, labels = read_claims(claims, baseline)
            progress.update(task, description=f"测算 {len(claim_table):,} 笔 / adjudicating twice")
            rows, before, after = run(claim_table, labels, baseline, changed)
    except YidiError as exc:
        err.print(f"[red]{exc.code}[/red] {exc.full_message()}")
        raise typer.Exit(1) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out_dir / "simulation.csv")
    (out_dir / "simulation.svg").write_text(
        svg_chart(rows, book.region_names, f"统筹基金支付：基线 vs {policy_change.name}"), encoding="utf-8")

    table = Table(title=f"政策测算 {policy_change.name}（{len(claim_table):,} 笔理赔）")
    for name in ("参保地", "医疗类别", "医院等级", "笔数", "基线基金(元)", "变更后基金(元)", "基金变化(元)", "变更后个人负担(元)"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(f"{book.region_names.get(row.insuplc_admdvs, '')} {row.insuplc_admdvs}", row.med_type,
                      str(row.hospital_level), f"{row.claims:,}", fen_to_yuan(row.baseline_fund_fen),
                      fen_to_yuan(row.changed_fund_fen), fen_to_yuan(row.fund_change_fen),
                      fen_to_yuan(row.changed_personal_fen))
    Console().print(table)
    refused = int((before.error != 0).sum())
    err.print(f"基金合计 / fund total: {fen_to_yuan(int(before.fund_pay_sumamt.sum()))} → "
              f"{fen_to_yuan(int(after.fund_pay_sumamt.sum()))} 元；未结算 {refused} 笔；"
              f"输出 / wrote {out_dir / 'simulation.csv'}, {out_dir / 'simulation.svg'}")


def demo_generate(
    claims: int = typer.Option(100_000, "--claims", min=1, help="理赔笔数 / number of claims"),
    out: Path = typer.Option(Path("claims.parquet"), "--out", help="输出 Parquet 文件"),
    seed: int = typer.Option(2024, "--seed", help="随机种子（同一种子得到同一文件）"),
) -> None:
    """生成合成理赔数据 / generate a synthetic claims population (docs/engine.md states the distributions)."""
    from yidi.cli_guard import writable
    from yidi.demo.generate import generate, write_claims

    writable(out)  # before any work: an unwritable path is refused at once
    with _progress() as progress:
        task = progress.add_task(f"生成 {claims:,} 笔 / generating", total=None)
        generated = generate(claims, seed=seed)
        progress.update(task, description=f"写入 / writing {out}")
        write_claims(generated, out)
    err.print(f"已生成 {claims:,} 笔理赔（{generated.n_persons:,} 人）→ {out}")


def register_demo(demo_app: typer.Typer) -> None:
    """Add `generate` to the `yidi demo` group (called from cli.py)."""
    demo_app.command("generate")(demo_generate)


