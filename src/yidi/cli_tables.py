"""Tables the commands print: Chinese column labels, identifiers always whole (never cut to "BA12…"),
money right-aligned. Rows are built first so an identifier column is as wide as its longest value."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from yidi.wording import STATUS_NAMES

OPS_STATE_NAMES = {"queued": "排队中", "settled": "已结算", "refused": "已拒绝", "settled_elsewhere": "已另行结算",
                   "all": "全部"}


def status_word(value: str | None) -> str:
    """A stored status in Chinese (filings, settlements, leads, the deferred queue)."""
    if not value:
        return ""
    return OPS_STATE_NAMES.get(value) or STATUS_NAMES.get(value, value)


def print_table(console: Console, title: str, headers: list[str], rows: list[list[str]], *,
                ids: tuple[str, ...] = (), right: tuple[str, ...] = ()) -> None:
    table = Table(title=title)
    for index, header in enumerate(headers):
        if header in ids:
            width = max([cell_len(str(row[index])) for row in rows] + [cell_len(header)])
            table.add_column(header, no_wrap=True, min_width=width)
        else:  # never narrower than its label: a narrow terminal folds text instead of hiding a column
            table.add_column(header, justify="right" if header in right else "left", overflow="fold",
                             min_width=cell_len(header))
    for row in rows:
        table.add_row(*[str(cell) for cell in row])
    needed = Measurement.get(console, console.options.update(width=100_000), table).maximum
    if needed <= console.width:
        console.print(table)
        return
    # Too wide for this terminal: one block per row (label：value), so no column is cut or hidden.
    console.print(f"[bold]{escape(title)}[/bold]")
    for row in rows:
        console.print("─" * min(console.width, 40))
        for header, cell in zip(headers, row):
            if str(cell):
                console.print(f"{escape(header)}：{escape(str(cell))}", overflow="fold")
