from django.urls import path

from kehu.transfer import views

app_name = "transfer"

urlpatterns = [
    path("", views.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("export/", views.export, name="export"),
    path("templates/<str:kind>.xlsx", views.template, name="template"),
    path("imports/<int:job_id>/", views.job_detail, name="job"),
    path("imports/<int:job_id>/progress/", views.job_progress, name="job_progress"),
    path("imports/<int:job_id>/options/", views.job_options, name="job_options"),
    path("imports/<int:job_id>/decisions/", views.job_decisions, name="job_decisions"),
    path("imports/<int:job_id>/run/", views.job_run, name="job_run"),
    path("imports/<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("imports/<int:job_id>/errors.xlsx", views.job_errors, name="job_errors"),
]
