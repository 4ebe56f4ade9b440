"""`yidi simulate` and `yidi demo generate`: the batch engine on the command line (Typer + Rich)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import fen_to_yuan

engine_app = typer.Typer(help="批量引擎 / batch engine: policy simulation")
err = Console(stderr=True)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err)


@engine_app.command("simulate")
def simulate(
    policy_change: Path = typer.Option(..., "--policy-change", help="政策变更 YAML（与 policy/data/insured 同格式）"),
    claims: Path = typer.Option(..., "--claims", help="理赔数据集目录或单个 Parquet 文件（yidi demo generate 生成）"),
    out_dir: Path = typer.Option(Path("simulation"), "--out-dir", help="CSV 与 SVG 图表的输出目录"),
    workers: int = typer.Option(2, "--workers", min=1, help="并行进程数（数据集目录；每个进程一次只读一个分区）"),
    check_sample: int = typer.Option(0, "--check-sample", min=0,
                                     help="每个分区随机抽取的人数，用标量引擎逐笔复核（到分）"),
    seed: int = typer.Option(2024, "--seed", help="--check-sample 抽样的随机种子"),
) -> None:
    """政策测算 / re-price claims under a policy change: fund and personal totals, CSV and SVG chart."""
    import time

    from yidi.engine.dataset import Manifest, is_dataset
    from yidi.engine.io import read_claims
    from yidi.engine.overlay import book_with_overlay
    from yidi.engine.repricing import reprice_dataset
    from yidi.engine.simulate import simulate as run, svg_chart, write_csv
    from yidi.engine.tables import PolicyTables
    from yidi.cli_guard import refuse, readable, writable
    from yidi.policy.loader import load_policy_book

    readable(policy_change), readable(claims, directory=True), writable(out_dir, directory=True)  # before any work
    check = None
    try:
        with _progress() as progress:
            task = progress.add_task("读取政策 / loading policy", total=None)
            book, changed_book = load_policy_book(), book_with_overlay(policy_change)
            baseline, changed = PolicyTables.from_book(book), PolicyTables.from_book(changed_book)
            started = time.perf_counter()
            if is_dataset(claims):
                manifest = Manifest.read(claims)
                progress.update(task, description=f"测算 {len(manifest.partitions)} 个分区 / re-pricing twice",
                                total=manifest.claims)
                check = reprice_dataset(claims, (book, baseline), (changed_book, changed), workers=workers,
                                        check_sample=check_sample, seed=seed,
                                        progress=lambda n: progress.advance(task, n))
                totals = check.totals
            else:
                if check_sample:
                    raise invalid("--check-sample", "抽样复核需要理赔数据集目录（含费用明细），单个文件不支持")
                progress.update(task, description="读取理赔 / reading claims")
                claim_table, labels = read_claims(claims, baseline)
                progress.update(task, description=f"测算 {len(claim_table):,} 笔 / adjudicating twice")
                totals = run(claim_table, labels, baseline, changed)
            seconds = time.perf_counter() - started
    except YidiError as exc:
        refuse(exc)
    rows = totals.rows()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out_dir / "simulation.csv")
    (out_dir / "simulation.svg").write_text(
        svg_chart(rows, book.region_names, f"统筹基金支付：基线 vs {policy_change.name}"), encoding="utf-8")

    table = Table(title=f"政策测算 {policy_change.name}（{totals.claims:,} 笔理赔）")
    for name in ("参保地", "医疗类别", "医院等级", "笔数", "基线基金(元)", "变更后基金(元)", "基金变化(元)", "变更后个人负担(元)"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(f"{book.region_names.get(row.insuplc_admdvs, '')} {row.insuplc_admdvs}", row.med_type,
                      str(row.hospital_level), f"{row.claims:,}", fen_to_yuan(row.baseline_fund_fen),
                      fen_to_yuan(row.changed_fund_fen), fen_to_yuan(row.fund_change_fen),
                      fen_to_yuan(row.changed_personal_fen))
    Console().print(table)
    before, after = totals.fund()
    err.print(f"基金合计 / fund total: {fen_to_yuan(before)} → {fen_to_yuan(after)} 元；未结算 {totals.refused} 笔；"
              f"{totals.claims:,} 笔用时 {seconds:.1f} s（{totals.claims / max(seconds, 1e-9) / 1e6:.2f} M 笔/秒）；"
              f"输出 / wrote {out_dir / 'simulation.csv'}, {out_dir / 'simulation.svg'}")
    if check is not None and check_sample:
        verdict = "一致 / exact" if not check.mismatched else f"[red]{check.mismatched} 处不一致 / MISMATCH[/red]"
        err.print(f"标量引擎复核 / scalar check: {check.checked_persons:,} 人 {check.checked_claims:,} 笔 × 2 套政策，"
                  f"{check.partitions} 个分区：{verdict}")
        for line in check.mismatches:
            err.print(f"  {line}")
        if check.mismatched:
            raise typer.Exit(2)


def demo_generate(
    claims: int = typer.Option(100_000, "--claims", min=1, help="理赔笔数 / number of claims"),
    out: Path = typer.Option(Path("claims"), "--out", help="输出目录（分区数据集）；以 .parquet 结尾则写单个文件"),
    seed: int = typer.Option(2024, "--seed", help="随机种子（同一种子得到同一数据）"),
    partition_claims: int = typer.Option(250_000, "--partition-claims", min=1,
                                         help="每个分区大约多少笔（决定内存上限）"),
    workers: int = typer.Option(2, "--workers", min=1, help="并行进程数"),
) -> None:
    """生成合成理赔数据 / generate a synthetic claims population (docs/engine.md states the distributions)."""
    from yidi.cli_guard import refuse, writable
    from yidi.demo.generate import generate, write_claims, write_dataset

    writable(out, directory=out.suffix != ".parquet")  # before any work: an unwritable path is refused at once
    try:
        with _progress() as progress:
            if out.suffix == ".parquet":
                task = progress.add_task(f"生成 {claims:,} 笔 / generating", total=None)
                generated = generate(claims, seed=seed)
                progress.update(task, description=f"写入 / writing {out}")
                write_claims(generated, out)
                persons = generated.n_persons
            else:
                task = progress.add_task(f"生成并写入 / generating into {out}", total=claims)
                persons = write_dataset(claims, out, seed=seed, partition_claims=partition_claims, workers=workers,
                                        progress=lambda n: progress.advance(task, n)).persons
    except YidiError as exc:
        refuse(exc)
    err.print(f"已生成 {claims:,} 笔理赔（{persons:,} 人）→ {out}")


def register_demo(demo_app: typer.Typer) -> None:
    """Add `generate` to the `yidi demo` group (called from cli.py)."""
    demo_app.command("generate")(demo_generate)


