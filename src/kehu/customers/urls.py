from django.urls import path

from kehu.customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("contacts/", views.contact_list, name="contact_list"),
    path("check-duplicates/", views.check_duplicates, name="check_duplicates"),
    path("pick/", views.customer_pick, name="pick"),
    path("bulk/", views.bulk_action, name="bulk"),
    path("filters/", views.saved_filter_save, name="filter_save"),
    path("filters/<slug:list_name>/", views.saved_filter_save, name="filter_save_list"),
    path("filters/<int:filter_id>/delete/", views.saved_filter_delete, name="filter_delete"),
    path("<int:customer_id>/", views.customer_detail, name="detail"),
    path("<int:customer_id>/tabs/<slug:tab>/", views.customer_tab, name="tab"),
    path("<int:customer_id>/edit/", views.customer_edit, name="edit"),
    path("<int:customer_id>/status/", views.change_status, name="status"),
    path("<int:customer_id>/verify/", views.verify, name="verify"),
    path("<int:customer_id>/reassign/", views.reassign, name="reassign"),
    path("<int:customer_id>/share/", views.share, name="share"),
    path("<int:customer_id>/grade/", views.set_grade, name="grade"),
    path("<int:customer_id>/merge/", views.merge, name="merge"),
    path("<int:customer_id>/delete/", views.delete, name="delete"),
    path("<int:customer_id>/contacts/", views.contact_add, name="contact_add"),
    path("<int:customer_id>/attachments/", views.attachment_upload, name="attachment_upload"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact_edit"),
    path(
        "contacts/<int:contact_id>/deactivate/",
        views.contact_deactivate,
        name="contact_deactivate",
    ),
    path("attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
    path(
        "attachments/<int:attachment_id>/delete/",
        views.attachment_delete,
        name="attachment_delete",
    ),
]
