"""A whole federation in one process: the hub and one node per province, each with its own database and its own
NATS connection, talking through the real NATS server (request/reply, JetStream KV). Used by
``yidi scenario run --federated`` and the tests; ``yidi federation demo`` runs the same roles as separate processes.
"""

from __future__ import annotations

import uuid
from typing import Callable

from yidi.federation import events
from yidi.federation.bridge import DEFAULT_URL, Bridge
from yidi.federation.hub import Hub, provinces
from yidi.federation.node import DEFAULT_TIMEOUT, Node
from yidi.federation.subjects import Names
from yidi.services.context import AppContext
from yidi.services.reference import load_reference


class LocalFederation:
    """``with LocalFederation(make_ctx) as fed:`` — ``make_ctx(name)`` gives a fresh, migrated context for "hub"
    and for each province code ("11", "41", …). The registry comes from the hub's database (the baseline reference
    data unless ``load`` is False). On exit every connection is drained and the KV bucket deleted."""

    def __init__(self, make_ctx: Callable[[str], AppContext], *, url: str = DEFAULT_URL,
                 federation: str | None = None, load: bool = True, timeout: float = DEFAULT_TIMEOUT,
                 demo: bool = False, deferred: bool = True):
        self.names = Names(federation or f"t{uuid.uuid4().hex[:12]}")
        self.url = url
        self.make_ctx = make_ctx
        self.load = load
        self.timeout = timeout
        self.demo = demo
        self.deferred = deferred
        self.hub: Hub | None = None
        self.nodes: dict[str, Node] = {}
        self._bridges: list[Bridge] = []

    def _bridge(self, name: str) -> Bridge:
        bridge = Bridge(self.url, name=f"{self.names.federation}-{name}")
        self._bridges.append(bridge)
        return bridge

    def __enter__(self) -> "LocalFederation":
        try:
            hub_ctx = self.make_ctx("hub")
            if self.load:
                load_reference(hub_ctx, persons=False)
            self.hub = Hub(hub_ctx, self._bridge("hub"), self.names).start()
            for province in provinces(hub_ctx):
                self.nodes[province] = Node(province, self.make_ctx(province), self._bridge(province), self.names,
                                            timeout=self.timeout, deferred=self.deferred).start()
                if self.demo:
                    self.nodes[province].add_demo_credentials()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def node_for(self, admdvs: str | None) -> Node | None:
        return self.nodes.get((admdvs or "")[:2])

    def close(self) -> None:
        for part in list(self.nodes.values()) + ([self.hub] if self.hub else []):
            part.stop()  # the outbox publishers and the hub's consumer, before their connections go
        for bridge in reversed(self._bridges[1:]):  # the nodes first: their consumers stop before the stream goes
            bridge.close()
        if self._bridges:
            hub = self._bridges[0]
            for delete in (lambda: hub.delete_bucket(self.names.registry_bucket),
                           lambda: hub.delete_object_store(self.names.claim_files_bucket),
                           lambda: hub.run(hub.js.delete_stream(self.names.deferred_stream)),
                           lambda: events.delete_stream(hub, self.names)):
                try:
                    delete()
                except Exception:  # noqa: BLE001 - never created (e.g. the hub failed first): nothing to delete
                    pass
            hub.close()
        self._bridges.clear()
        contexts = [node.ctx for node in self.nodes.values()] + ([self.hub.ctx] if self.hub else [])
        for ctx in contexts:
            ctx.federation = None  # a context outlives its federation (e.g. a test's shared PostgreSQL context)
            ctx.engine.dispose()
