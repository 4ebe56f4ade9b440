"""``yidi hub serve``, ``yidi node serve`` and ``yidi federation demo`` (issue 16, docs/federation.md)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import typer
from rich.console import Console

hub_app = typer.Typer(help="全国中心节点 / the national hub of a federation")
node_app = typer.Typer(help="省级节点 / a province node of a federation")
federation_app = typer.Typer(help="联邦 / federation (local demo)")
err = Console(stderr=True)

NATS_OPTION = typer.Option(None, "--nats-url", help="NATS URL (default: YIDI_NATS_URL or nats://127.0.0.1:4222)")
FEDERATION_OPTION = typer.Option("yidi", "--federation", help="federation id: prefix of its subjects and buckets")


def _nats(url: str | None) -> str:
    from yidi.federation.bridge import HOW_TO_START, reachable

    url = url or os.environ.get("YIDI_NATS_URL", "nats://127.0.0.1:4222")
    if not reachable(url):
        err.print(f"[red]无法连接 NATS[/red] {url}。{HOW_TO_START}")
        raise typer.Exit(2)
    return url


def _wait_for_signal() -> None:
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()


@hub_app.command("serve")
def hub_serve(database_url: str = typer.Option("sqlite:///./var/federation/hub.db", help="the hub's own database"),
              federation: str = FEDERATION_OPTION, nats_url: str | None = NATS_OPTION,
              demo: bool = typer.Option(False, help="load the baseline regions and institutions into the registry")) -> None:
    """启动中心节点 / publish the registry to JetStream KV and serve the person index until stopped."""
    from yidi.federation.bridge import Bridge
    from yidi.federation.hub import Hub
    from yidi.federation.subjects import Names
    from yidi.services.context import AppContext
    from yidi.services.reference import load_reference

    url = _nats(nats_url)
    ctx = AppContext.from_url(database_url)
    if demo:
        load_reference(ctx, persons=False)
    bridge = Bridge(url, name="hub")
    hub = Hub(ctx, bridge, Names(federation))
    try:
        hub.start()
        err.print(f"hub: federation {federation} on {url}; registry in KV bucket {Names(federation).registry_bucket}")
        _wait_for_signal()
    finally:
        hub.stop()  # the events consumer first: acknowledged only what the hub committed
        bridge.close()
        ctx.engine.dispose()


@node_app.command("serve")
def node_serve(province: str = typer.Option(..., help="two-digit province code, e.g. 41 (河南)"),
               database_url: str = typer.Option(None, help="the node's own database "
                                                "(default sqlite:///./var/federation/node-<province>.db)"),
               host: str = "127.0.0.1", port: int = typer.Option(None, help="default 8000 + province code"),
               federation: str = FEDERATION_OPTION, nats_url: str | None = NATS_OPTION,
               demo: bool = typer.Option(False, help="load this province's demo persons, filings, users and keys"),
               wait: float = typer.Option(60.0, help="seconds to wait for the hub's registry"),
               timeout: float = typer.Option(None, help="seconds to wait for another province's node "
                                             "(default: the setting YIDI_FEDERATION_TIMEOUT_SECONDS, 10)")) -> None:
    """启动省级节点 / serve a province's hospital interface, API and pages, and its insured side over NATS."""
    import uvicorn

    from yidi.api.app import create_app
    from yidi.federation.bridge import Bridge
    from yidi.federation.demo import load_node_demo, port_of
    from yidi.federation.node import Node
    from yidi.federation.subjects import Names
    from yidi.services.context import AppContext

    if not (len(province) == 2 and province.isdigit()):
        err.print("--province 应为两位省级代码，如 41（河南）")
        raise typer.Exit(2)
    url = _nats(nats_url)
    if demo:
        os.environ["YIDI_DEMO_MODE"] = "true"
    ctx = AppContext.from_url(database_url or f"sqlite:///./var/federation/node-{province}.db", demo_mode=demo)
    from yidi.config import get_settings

    bridge = Bridge(url, name=f"node-{province}")
    node = Node(province, ctx, bridge, Names(federation),
                timeout=timeout if timeout is not None else get_settings().federation_timeout_seconds)
    try:
        deadline = time.monotonic() + wait
        while True:  # the hub may still be starting
            try:
                node.start()
                break
            except Exception as exc:  # noqa: BLE001 - bucket not there yet
                if time.monotonic() > deadline:
                    err.print(f"[red]未找到中心节点的参考数据[/red]（{exc}）：请先启动 yidi hub serve")
                    raise typer.Exit(2) from None
                time.sleep(1)
        if demo:
            node.add_demo_credentials()
            load_node_demo(ctx, province)
        node.index_persons()
        port = port or port_of(province)
        err.print(f"node {province}: http://{host}:{port}  (federation {federation} on {url})")
        uvicorn.run(create_app(ctx), host=host, port=port, log_level="info")
    finally:
        node.stop()  # the outbox publisher: what is unsent stays for the next start
        bridge.close()
        ctx.engine.dispose()


@federation_app.command("demo")
def federation_demo(folder: Path = typer.Option(Path("var/federation"), help="where the databases live"),
                    host: str = "127.0.0.1", nats_url: str | None = NATS_OPTION) -> None:
    """本地演示联邦 / hub + five province nodes (北京 8011, 上海 8031, 山东 8037, 河南 8041, 湖北 8042) on the local NATS."""
    from yidi.federation import demo

    url = _nats(nats_url)
    for province, name in demo.PROVINCES.items():
        err.print(f"{name} {province}: http://{host}:{demo.port_of(province)}")
    raise typer.Exit(demo.run(folder.resolve(), url, host=host))
