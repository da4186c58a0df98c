"""POST /api/token: OAuth2 client credentials (chosen by the mock)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from ..runtime import Runtime
from .common import _ERR, context
from .errors import error_response, json_response
from .schemas import CHOSEN, Token


def router(rt: Runtime) -> APIRouter:
    r = APIRouter(tags=["Auth"])

    @r.post(
        "/api/token",
        operation_id="createToken",
        response_model=Token,
        summary="Get a bearer token (OAuth2 client credentials)",
        description="Form post grant_type=client_credentials, client_id, client_secret. Every other call needs "
        "`Authorization: Bearer <access_token>`." + CHOSEN,
        responses={400: {**_ERR, "description": "Validation: bad grant type."},
                   401: {**_ERR, "description": "Unauthorized: unknown client or wrong secret."}},
    )
    async def create_token(
        request: Request,
        grant_type: Annotated[str, Form(examples=["client_credentials"])],
        client_id: Annotated[str, Form(examples=["demo"])],
        client_secret: Annotated[str, Form(examples=["demo-secret"])],
    ) -> Response:
        ctx = context(request)
        if grant_type != "client_credentials":
            return error_response(400, "Only grant_type=client_credentials is supported.",
                                  [("grant_type", "Must be client_credentials.")], trace_id=ctx.trace_id)
        if rt.clients.get(client_id) != client_secret:
            return error_response(401, "Unknown client or wrong secret.", [("client_id", "Invalid client.")],
                                  trace_id=ctx.trace_id, error_type="Unauthorized")
        token, lifetime = rt.issue_token(client_id)
        ctx.client_id = client_id
        return json_response({"access_token": token, "token_type": "Bearer", "expires_in": lifetime})

    return r
