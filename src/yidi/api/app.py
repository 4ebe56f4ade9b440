"""The FastAPI application: /fsi/api (hospital interface), /api (people and agencies), pages.

``create_app`` builds everything from an ``AppContext`` — the one place the application is assembled. Routers
live one per module (``ROUTER_MODULES``, each with ``register(app)``); a listed module that cannot be imported
stops the start with an error naming it, never a server quietly missing a part. Errors: every ``YidiError``
becomes ``{code, message, hint}`` with its HTTP status; request validation problems become INVALID_INPUT naming
the field — bad input is never a 500.
"""

from __future__ import annotations

import importlib
import uuid
from collections import defaultdict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from yidi import __version__
from yidi.api import fault_hooks
from yidi.interface.gateway import InterfaceGateway
from yidi.api.guards import BodyGuard
from yidi.config import get_settings, production_problems
from yidi.domain.errors import YidiError, invalid
from yidi.logs import configure_logging, exception_line, get_logger
from yidi.services import transactions
from yidi.services.context import AppContext

# One module per part of the system, each exposing ``register(app)``. Every one is required.
ROUTER_MODULES = [
    "yidi.api.auth",
    "yidi.api.filings",
    "yidi.api.special_drugs",
    "yidi.api.benefit",
    "yidi.interface.router",
    "yidi.api.claims",
    "yidi.api.funds",
    "yidi.api.desk",
    "yidi.web.pages",
    "yidi.api.metrics",
    "yidi.api.reference_docs",
]

log = get_logger("yidi.api")

# Pydantic error types in plain Chinese (Chinese first); anything else keeps pydantic's own text.
VALIDATION_MESSAGES = {
    "missing": "必填",
    "extra_forbidden": "不允许的字段",
    "enum": "取值无效，应为 {expected}",
    "literal_error": "取值无效，应为 {expected}",
    "string_pattern_mismatch": "格式不符",
    "string_too_short": "不能为空",
    "string_too_long": "过长",
    "string_type": "应为字符串",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "json_invalid": "不是有效的 JSON",
    "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
}


def validation_detail(error: dict) -> str:
    template = VALIDATION_MESSAGES.get(error.get("type", ""))
    if template is None:
        return str(error.get("msg", "")).removeprefix("Value error, ")[:100]
    context = defaultdict(str, {key: str(value) for key, value in (error.get("ctx") or {}).items()})
    # "'a', 'b' or 'c'" → "a、b、c"
    context["expected"] = context["expected"].replace("'", "").replace(" or ", "、").replace(", ", "、")
    return template.format_map(context)[:200]


def error_response(exc: YidiError) -> JSONResponse:
    return JSONResponse(status_code=exc.http_status, content=exc.to_dict())


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not /api or the interface, and HTML accepted)."""
    path = request.url.path
    return ("text/html" in request.headers.get("accept", "") and "session" in request.scope
            and not path.startswith(("/api/", "/fsi/")))


class RouterModuleMissing(RuntimeError):
    """A module listed in ROUTER_MODULES cannot be imported or has no ``register(app)``."""


def include_routers(app: FastAPI) -> None:
    """Every module of ``ROUTER_MODULES`` registers its routes; a missing one fails loudly, naming it."""
    for module_name in ROUTER_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise RouterModuleMissing(
                f"router module {module_name} (ROUTER_MODULES) cannot be imported: {exc}") from exc
        register = getattr(module, "register", None)
        if not callable(register):
            raise RouterModuleMissing(f"router module {module_name} (ROUTER_MODULES) has no register(app)")
        register(app)


def create_app(ctx: AppContext | None = None) -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    missing = production_problems(settings)
    if missing:  # refuse to serve production with development secrets (docs/operations.md)
        raise YidiError("PRODUCTION_CONFIG_MISSING", {"missing": "；".join(missing)})
    if ctx is None:
        ctx = AppContext.from_url(settings.database_url, demo_mode=settings.demo_mode)
    app = FastAPI(title="yidi 异地就医直接结算", version=__version__,
                  description="Cross-region medical-insurance direct settlement. 中文优先 / Chinese first.",
                  docs_url=None, redoc_url=None)  # served from local files by api/reference_docs.py
    app.state.ctx = ctx
    fault_hooks.install(ctx)  # fault-injection seams: only with YIDI_TEST_HOOKS=1 (tests/fault)

    @app.exception_handler(YidiError)
    async def _yidi_error(_request: Request, exc: YidiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": ["body"], "msg": "invalid"}
        field_name = ".".join(str(part) for part in first.get("loc", []) if part not in ("body", "query", "path"))
        return error_response(invalid(field_name or "body", validation_detail(first)))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # The router's own refusals (unknown address, wrong method): coded like every other refusal,
        # and a Chinese page for a browser that asked for a page.
        if exc.status_code == 405:
            refusal = YidiError("METHOD_NOT_ALLOWED", {"method": request.method, "path": request.url.path[:200]})
        elif exc.status_code == 404:
            refusal = YidiError("NOT_FOUND", {"what": "页面或接口", "key": request.url.path[:200]})
        else:
            return JSONResponse({"code": "HTTP_%d" % exc.status_code, "message": str(exc.detail)},
                                status_code=exc.status_code, headers=getattr(exc, "headers", None))
        if wants_page(request):
            from yidi.web.core import render

            return render(request, "error.html", status_code=refusal.http_status, code=refusal.code,
                          message=refusal.message, hint="请检查地址，或从首页进入。")
        return error_response(refusal)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        if transactions.is_conflict(exc):  # the database ended this use case as a deadlock's loser
            return error_response(YidiError("CONCURRENT_CONFLICT", {"attempts": 1}))
        # A bug, never bad input: one bounded line with a reference the operator can grep for (logs.py).
        ref = uuid.uuid4().hex[:12]
        log.error("unhandled", ref=ref, error=exception_line(exc))
        return error_response(YidiError("SYSTEM_ERROR", {"ref": ref}))

    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes, upload_max_bytes=settings.claim_body_bytes,
                       upload_paths=frozenset({"/api/claims/manual", "/person/claim"}))

    @app.get("/health", tags=["ops"])
    def health() -> dict:
        return {"status": "ok", "version": __version__, "database": ctx.engine.dialect.name}

    include_routers(app)
    # Outermost, after every other middleware: hospital calls skip the router and the pages' middleware.
    app.add_middleware(InterfaceGateway, ctx=ctx, max_bytes=settings.max_body_bytes)
    return app
