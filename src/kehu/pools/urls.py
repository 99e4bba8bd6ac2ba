from django.urls import URLPattern, path

from kehu.pools import views

app_name = "pools"

urlpatterns: list[URLPattern] = [
    path("", views.pool_list, name="list"),
    path("new/", views.pool_edit, name="create"),
    path("<int:pool_id>/", views.pool_detail, name="detail"),
    path("<int:pool_id>/edit/", views.pool_edit, name="edit"),
    path("<int:pool_id>/put/", views.put, name="put"),
    path("<int:pool_id>/customers/<int:customer_id>/claim/", views.claim, name="claim"),
    path("<int:pool_id>/customers/<int:customer_id>/assign/", views.assign, name="assign"),
    path("release/<int:customer_id>/", views.release, name="release"),
    path("warnings/", views.warnings, name="warnings"),
    path("duplicate-check/", views.duplicate_check, name="duplicate_check"),
    path("offboarding/", views.offboarding, name="offboarding"),
    path("reveal/contact/<int:contact_id>/", views.reveal_contact, name="reveal_contact"),
    path("reveals/", views.reveal_log, name="reveals"),
]
