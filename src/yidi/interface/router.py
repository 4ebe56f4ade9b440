"""The FastAPI routes of ``/fsi/api`` — a thin adapter for the OpenAPI document: calls are answered before the
router by the gateway (interface/gateway.py) with the same ``answer``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response


def register(app: FastAPI) -> None:
    """The interface's routes, for the OpenAPI document. Calls are answered before the router by
    interface/gateway.py (installed outermost by ``create_app``) with the same ``answer``."""
    from yidi.interface.gateway import answer, is_file

    async def _endpoint(request: Request, infno: str | None) -> Response:
        status, payload = await answer(request.app.state.ctx, dict(request.headers), await request.body(), infno)
        return Response(payload, status_code=status,
                        media_type="application/octet-stream" if is_file(payload) else "application/json")

    @app.post("/fsi/api/call", tags=["hospital interface"], summary="交易（infno 取自报文）")
    async def call_any(request: Request) -> Response:
        return await _endpoint(request, None)

    @app.post("/fsi/api/rsfComIfsService/callService", tags=["hospital interface"], summary="交易（HIS 常用路径）")
    async def call_service(request: Request) -> Response:
        return await _endpoint(request, None)

    @app.post("/fsi/api/{infno}", tags=["hospital interface"], summary="交易 infno")
    async def call_infno(infno: str, request: Request) -> Response:
        return await _endpoint(request, infno)
