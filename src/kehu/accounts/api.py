from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema
from ninja.responses import Status

from kehu.accounts import selectors, services
from kehu.accounts.http import AuthedRequest
from kehu.accounts.schemas import UserOut

router = Router(tags=["users"])


class TokenIn(Schema):
    name: str
    expires_at: datetime | None = None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    is_active: bool


class IssuedTokenOut(TokenOut):
    token: str


@router.get("/me", response=UserOut, summary="The signed-in user")
def me(request: AuthedRequest) -> Any:
    return request.user


@router.get("/me/tokens", response=list[TokenOut], summary="Your API tokens")
def list_tokens(request: AuthedRequest) -> Any:
    return selectors.token_list(user=request.user)


@router.post(
    "/me/tokens",
    response={201: IssuedTokenOut},
    summary="Create an API token; the secret is in this answer only",
)
def create_token(request: AuthedRequest, payload: TokenIn) -> Any:
    issued = services.token_create(
        user=request.user, name=payload.name, expires_at=payload.expires_at
    )
    body = TokenOut.from_orm(issued.token).dict()
    return Status(201, {**body, "token": issued.plaintext})


@router.delete("/me/tokens/{token_id}", response={204: None}, summary="Revoke an API token")
def revoke_token(request: AuthedRequest, token_id: int) -> Any:
    services.token_revoke(user=request.user, token_id=token_id)
    return Status(204, None)
