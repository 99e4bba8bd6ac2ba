from django.urls import URLPattern, path

from kehu.opportunities import views

app_name = "opportunities"

urlpatterns: list[URLPattern] = [
    path("", views.board, name="board"),
    path("list/", views.opportunity_list, name="list"),
    path("new/", views.opportunity_create, name="create"),
    path("review/", views.review, name="review"),
    path("forecast/", views.forecast, name="forecast"),
    path("funnel/", views.funnel, name="funnel"),
    path("settings/", views.settings_home, name="settings"),
    path("settings/stages/new/", views.stage_edit, name="stage_create"),
    path("settings/stages/<int:stage_id>/", views.stage_edit, name="stage_edit"),
    path("settings/rules/new/", views.rule_edit, name="rule_create"),
    path("settings/rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("settings/loss-reasons/new/", views.loss_reason_edit, name="loss_reason_create"),
    path("settings/loss-reasons/<int:reason_id>/", views.loss_reason_edit, name="loss_reason_edit"),
    path("attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
    path("<int:opportunity_id>/", views.opportunity_detail, name="detail"),
    path("<int:opportunity_id>/edit/", views.opportunity_edit, name="edit"),
    path("<int:opportunity_id>/stage/", views.opportunity_move, name="move"),
    path("<int:opportunity_id>/win/", views.opportunity_win, name="win"),
    path("<int:opportunity_id>/lose/", views.opportunity_lose, name="lose"),
    path("<int:opportunity_id>/delete/", views.opportunity_delete, name="delete"),
    path("<int:opportunity_id>/attachments/", views.attachment_add, name="attachment_add"),
]
