from django.urls import path

from kehu.leads import views

app_name = "leads"

urlpatterns = [
    path("", views.lead_list, name="list"),
    path("pool/", views.lead_list, {"view": "pool"}, name="pool"),
    path("mine/", views.lead_mine, name="mine"),
    path("overdue/", views.lead_list, {"view": "overdue"}, name="overdue"),
    path("review/", views.lead_review_queue, name="review"),
    path("new/", views.lead_create, name="create"),
    path("<int:lead_id>/", views.lead_detail, name="detail"),
    path("<int:lead_id>/edit/", views.lead_edit, name="edit"),
    path("<int:lead_id>/confirm/", views.lead_confirm, name="confirm"),
    path("<int:lead_id>/invalidate/", views.lead_invalidate, name="invalidate"),
    path("<int:lead_id>/assign/", views.lead_assign, name="assign"),
    path("<int:lead_id>/review/", views.lead_review, name="review_lead"),
    path("<int:lead_id>/convert/", views.lead_convert, name="convert"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_edit, name="rule_create"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/<int:rule_id>/move/", views.rule_move, name="rule_move"),
    path("assignment/dry-run/", views.dry_run, name="dry_run"),
    path("assignment/run/", views.run_batch, name="run_batch"),
    path("web-forms/", views.web_form_list, name="web_forms"),
    path("web-forms/<int:form_id>/", views.web_form_detail, name="web_form"),
    path("w/<slug:key>/", views.public_form, name="public_form"),
]
