"""The public satisfaction survey page: no login, reached from the link in the e-mail.

GET shows the scores 1–5 (the one clicked in the mail pre-selected) and a comment box and
writes nothing; POST records the answer once. A forged, expired or used link answers a clear
error page with a 4xx status.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from kehu.core.errors import InvalidInput, KehuError
from kehu.service.services import surveys as services
from kehu.service.services.surveys import SCORES

PAGE = "service/surveys/page.html"


@never_cache
@require_http_methods(["GET", "POST"])
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        survey = services.survey_from_token(token)
    except KehuError as error:
        return _refused(request, error)
    context = {
        "survey": survey,
        "ticket": survey.ticket,
        "scores": SCORES,
        "selected": _score_param(request.GET.get("score")),
        "comment": "",
    }
    if request.method == "GET":
        return render(request, PAGE, context)
    score = request.POST.get("score")
    comment = request.POST.get("comment", "")
    try:
        services.survey_answer(token=token, score=score, comment=comment)
    except InvalidInput as error:
        context.update(selected=_score_param(score), comment=comment, errors=error.errors)
        return render(request, PAGE, context, status=error.status)
    except KehuError as error:  # used or expired meanwhile
        return _refused(request, error)
    return render(request, "service/surveys/thanks.html", {"ticket": survey.ticket})


def _refused(request: HttpRequest, error: KehuError) -> HttpResponse:
    context = {"error": error.detail, "code": error.code}
    return render(request, "service/surveys/refused.html", context, status=error.status)


def _score_param(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and int(raw) in SCORES else None


urlpatterns: list[URLPattern] = [
    path("survey/<str:token>/", survey_page, name="survey"),
]
