from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kehu.customers import selectors


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    customers = selectors.customer_list(user=request.user)[:50]
    return render(request, "customers/list.html", {"customers": customers})


@login_required
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    return render(request, "customers/detail.html", {"customer": customer})
