"""The application is assembled in one place (api/app.py): every router module listed must be there. A missing
one stops the start with an error naming it — before, it was skipped and the server ran without that part."""

from __future__ import annotations

import pytest

from yidi.api import app as app_module
from yidi.api.app import RouterModuleMissing, create_app


def _paths(app) -> set[str]:
    return {getattr(route, "path", "") for route in app.routes} | set(app.openapi()["paths"])


def test_every_listed_router_is_mounted(sqlite_ctx):
    paths = _paths(create_app(sqlite_ctx))
    assert {"/fsi/api/{infno}", "/fsi/api/call", "/api/login", "/api/filings", "/metrics"} <= paths


def test_a_missing_router_module_stops_the_app_naming_it(sqlite_ctx, monkeypatch):
    monkeypatch.setattr(app_module, "ROUTER_MODULES", [*app_module.ROUTER_MODULES, "yidi.api.no_such_router"])
    with pytest.raises(RouterModuleMissing, match="yidi.api.no_such_router"):
        create_app(sqlite_ctx)


def test_a_router_module_without_register_stops_the_app(sqlite_ctx, monkeypatch):
    monkeypatch.setattr(app_module, "ROUTER_MODULES", [*app_module.ROUTER_MODULES, "yidi.interface.envelope"])
    with pytest.raises(RouterModuleMissing, match="has no register"):
        create_app(sqlite_ctx)
