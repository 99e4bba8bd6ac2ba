from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from kehu.accounts.schemas import UserOut

router = Router(tags=["users"])


@router.get("/me", response=UserOut, summary="The signed-in user")
def me(request: HttpRequest) -> object:
    return request.user
