"""Monitoring: ``/metrics`` in the Prometheus text format, and the liveness / readiness probes.

Two kinds of figures:

- Counted in the process, on the hospital interface's hot path: one counter increment and one histogram
  observation per call (``observe_call``), nothing else. Labels are bounded: ``infno`` is one of the
  interface's transaction numbers (anything else is ``other``) and ``outcome`` is ``ok`` or the error code.
- Read from the database when Prometheus scrapes (``DatabaseCollector``): today's settlements and fund
  amounts, the degraded-mode queue, the audit sealer's lag. They are the same whichever worker answers.
  The connection pool is the answering process's own (label ``pid``).

Several worker processes (``yidi serve --workers N``): prometheus-client's multiprocess mode. ``yidi serve``
points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start (an operator may set it
instead); each worker writes its counters there and ``/metrics`` sums them, whichever worker is asked.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from yidi import __version__
from yidi.domain.errors import YidiError
from yidi.services import monitoring
from yidi.services.context import AppContext

CALLS = Counter("yidi_fsi_calls_total", "Hospital interface calls by transaction and outcome (ok or error code)",
                ["infno", "outcome"])
LATENCY = Histogram("yidi_fsi_call_seconds", "Hospital interface call latency, request body read to answer",
                    ["infno"], buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0))


def _known_infnos() -> frozenset[str]:
    from yidi.interface.dispatch import TRANSACTIONS

    return frozenset(TRANSACTIONS)


SETTLED_FUND = Counter("yidi_fsi_settlement_fund_pay_fen_total",
                       "Fund payments (fen) of settlements answered by the interface (2304, 2207)", ["infno"])
SETTLED_MEDFEE = Counter("yidi_fsi_settlement_medfee_fen_total",
                         "Medical fees (fen) of settlements answered by the interface (2304, 2207)", ["infno"])
SETTLE_INFNOS = frozenset({"2304", "2207"})
_INFNOS: frozenset[str] = frozenset()


def observe_call(infno: str | None, envelope: dict, seconds: float) -> None:
    """The hot path's whole cost: one counter, one histogram (and two counters for a settlement)."""
    global _INFNOS
    if not _INFNOS:
        _INFNOS = _known_infnos()
    label = infno if infno in _INFNOS else "other"
    outcome = outcome_of(envelope)
    CALLS.labels(label, outcome).inc()
    LATENCY.labels(label).observe(seconds)
    if outcome == "ok" and label in SETTLE_INFNOS:
        setlinfo = (envelope.get("output") or {}).get("setlinfo") or {}
        SETTLED_FUND.labels(label).inc(_fen(setlinfo.get("fund_pay_sumamt")))
        SETTLED_MEDFEE.labels(label).inc(_fen(setlinfo.get("medfee_sumamt")))


def _fen(yuan_text) -> int:
    from yidi.domain.money import MoneyFormatError, yuan_to_fen

    try:
        return max(0, yuan_to_fen(str(yuan_text)))
    except (MoneyFormatError, ValueError):
        return 0


def outcome_of(envelope: dict) -> str:
    """``ok`` or the error code the envelope's ``err_msg`` starts with (``"CODE：cause…"``)."""
    if envelope.get("infcode") == 0:
        return "ok"
    code = str(envelope.get("err_msg") or "").split("：", 1)[0]
    return code if code.replace("_", "").isalpha() and code.isupper() else "error"


class DatabaseCollector:
    """Figures read from the database at scrape time (cheap, indexed queries)."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    def collect(self):
        up = GaugeMetricFamily("yidi_database_up", "1 when the database answered this scrape")
        settled = GaugeMetricFamily("yidi_settlements_today", "Settlements dated today by kind and status",
                                    labels=["kind", "status"])
        fund = GaugeMetricFamily("yidi_settlement_fund_pay_fen_today",
                                 "Fund payments (fen) of today's settlements by kind and status",
                                 labels=["kind", "status"])
        medfee = GaugeMetricFamily("yidi_settlement_medfee_fen_today",
                                   "Total medical fees (fen) of today's settlements by kind and status",
                                   labels=["kind", "status"])
        queue = GaugeMetricFamily("yidi_deferred_settlements", "Degraded-mode queue by state", labels=["state"])
        unsealed = GaugeMetricFamily("yidi_audit_unsealed_rows",
                                     "Audit rows written after the newest sealed one (sealer backlog)")
        lag = GaugeMetricFamily("yidi_audit_seal_lag_seconds",
                                "Age of the newest audit row minus age of the newest sealed one")
        try:
            figures = monitoring.database_figures(self.ctx)
        except Exception:  # noqa: BLE001 - a scrape must answer even when the database does not
            up.add_metric([], 0)
            yield up
            yield from self._pool()
            return
        for row in figures.settlements_today:
            settled.add_metric([row.kind, row.status], row.count)
            fund.add_metric([row.kind, row.status], row.fund_fen)
            medfee.add_metric([row.kind, row.status], row.medfee_fen)
        for state, count in figures.deferred:
            queue.add_metric([state], count)
        unsealed.add_metric([], figures.audit_unsealed_rows)
        lag.add_metric([], figures.audit_seal_lag_seconds)
        up.add_metric([], 1)
        yield from (up, settled, fund, medfee, queue, unsealed, lag)
        yield from self._pool()

    def _pool(self):
        gauge = GaugeMetricFamily("yidi_db_pool_connections", "This process's database connection pool",
                                  labels=["pid", "state"])
        pid = str(os.getpid())
        for state, count in monitoring.pool_figures(self.ctx).items():
            gauge.add_metric([pid, state], count)
        yield gauge


def _process_registry() -> CollectorRegistry:
    """Counters of this process, or of every worker in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


database_ready = monitoring.database_ready  # the readiness probe's database check


def nats_ready(ctx: AppContext) -> str | None:
    """None on a single node, or when a federation node's NATS connection is up; else the reason."""
    federation = getattr(ctx, "federation", None)
    if federation is None:
        return None
    connection = federation.bridge.nc
    return None if connection.is_connected else ("reconnecting" if connection.is_reconnecting else "closed")


def register(app: FastAPI) -> None:
    ctx: AppContext = app.state.ctx
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(ctx))

    @app.get("/metrics", tags=["ops"], summary="Prometheus 指标 / metrics")
    def metrics() -> Response:
        body = generate_latest(_process_registry()) + generate_latest(database)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/health/live", tags=["ops"], summary="存活探针 / liveness (the process answers)")
    def live() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/health/ready", tags=["ops"], summary="就绪探针 / readiness (the database answers; NATS on a node)")
    def ready() -> JSONResponse:
        problem = database_ready(ctx)
        if problem:
            refusal = YidiError("DATABASE_UNAVAILABLE", {"detail": problem})
            return JSONResponse({"status": "unavailable", **refusal.to_dict()}, status_code=refusal.http_status)
        nats_problem = nats_ready(ctx)
        if nats_problem:
            refusal = YidiError("NATS_UNAVAILABLE", {"detail": nats_problem})
            return JSONResponse({"status": "unavailable", **refusal.to_dict()}, status_code=refusal.http_status)
        body = {"status": "ok", "database": ctx.engine.dialect.name}
        if getattr(ctx, "federation", None) is not None:
            body["nats"] = "connected"
        return JSONResponse(body)
