from __future__ import annotations

from django.http import HttpRequest

from kehu.core.navigation import menu_for


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"menu": []}
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match else ""
    role = getattr(user, "role", "")
    return {"menu": menu_for(role, user.is_superuser, namespace, request.path)}
