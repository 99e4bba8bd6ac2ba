from django.urls import path

from kehu.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("badge/", views.badge, name="badge"),
    path("read-all/", views.mark_all_read, name="mark_all_read"),
    path("<int:notification_id>/read/", views.mark_read, name="mark_read"),
    path("channels/", views.channel_settings, name="channels"),
    path("deliveries/", views.delivery_log, name="deliveries"),
]
