from django.urls import path

from kehu.followups import email_views, plan_views, views

app_name = "followups"

urlpatterns = [
    path("", views.my_day, name="my_day"),
    path("calendar/", views.task_calendar, name="calendar"),
    path("tasks/new/", views.task_new, name="task_new"),
    path("tasks/<int:task_id>/", views.task_detail, name="task_detail"),
    path(
        "tasks/<int:task_id>/<str:action>/",
        views.task_action,
        name="task_action",
    ),
    path("customers/<int:customer_id>/", views.customer_timeline, name="customer_timeline"),
    path("customers/<int:customer_id>/log/", views.followup_log, name="followup_log"),
    path("records/<int:followup_id>/", views.followup_detail, name="followup_detail"),
    path(
        "attachments/<int:attachment_id>/",
        views.attachment_download,
        name="attachment_download",
    ),
    path("calendar/feed/", views.feed_settings, name="feed_settings"),
    path("feed/<str:token>.ics", views.ics_feed, name="ics_feed"),
    *email_views.urlpatterns,
    *plan_views.urlpatterns,  # cadence plans and care dates (managers, admins)
]
