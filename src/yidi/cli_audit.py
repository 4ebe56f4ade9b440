"""`yidi audit …`: the audit log's hash chain (services/audit.py).

``seal`` chains every audit row written since the last pass (the server also does this about once a
second while it answers hospital calls); ``verify`` seals and checks the chain only (``yidi verify`` checks
everything, the chain included).
"""

from __future__ import annotations

import typer
from rich.console import Console

audit_app = typer.Typer(help="审计日志 / audit log hash chain", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@audit_app.command("seal")
def seal() -> None:
    """封存审计日志 / chain every audit row not sealed yet (append-only seals; safe to run any time)."""
    from yidi.cli import _context
    from yidi.services.verify import seal_audit_log

    ctx = _context(migrate=False)
    out.print(f"sealed {seal_audit_log(ctx)} audit row(s)")
    ctx.engine.dispose()


@audit_app.command("verify")
def verify() -> None:
    """核对审计哈希链 / seal, then recompute every sealed row's hash; exit 1 when the chain is broken."""
    from yidi.cli import _context
    from yidi.services.verify import check_audit_chain, seal_audit_log

    ctx = _context(migrate=False)
    sealed_now = seal_audit_log(ctx)
    chain = check_audit_chain(ctx)
    ok, checked, broken, waiting = chain.ok, chain.checked, chain.broken, chain.waiting
    ctx.engine.dispose()
    if not ok:
        err.print(f"[red]FAIL[/red] hash chain broken at audit row {broken} (of {checked} checked)")
        raise typer.Exit(1)
    out.print(f"[green]ok[/green] {checked} sealed row(s) verified ({sealed_now} sealed now, {waiting} awaiting a seal)")
