from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.responses import Status

from kehu.accounts import selectors, services
from kehu.accounts.models import ApiToken, User
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
def me(request: HttpRequest) -> Any:
    return request.user


@router.get("/me/tokens", response=list[TokenOut], summary="Your API tokens")
def list_tokens(request: HttpRequest) -> Any:
    return selectors.token_list(user=cast(User, request.user))


@router.post(
    "/me/tokens",
    response={201: IssuedTokenOut},
    summary="Create an API token; the secret is in this answer only",
)
def create_token(request: HttpRequest, payload: TokenIn) -> Any:
    issued = services.token_create(
        user=cast(User, request.user), name=payload.name, expires_at=payload.expires_at
    )
    body = TokenOut.from_orm(issued.token).dict()
    return Status(201, {**body, "token": issued.plaintext})


@router.delete("/me/tokens/{token_id}", response={204: None}, summary="Revoke an API token")
def revoke_token(request: HttpRequest, token_id: int) -> Any:
    try:
        services.token_revoke(user=cast(User, request.user), token_id=token_id)
    except ApiToken.DoesNotExist as missing:
        raise Http404 from missing
    return Status(204, None)
