from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from kehu.customers import hooks
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerAttachment,
    CustomerShare,
    Industry,
    Region,
    SavedFilter,
    StatusChange,
    Tag,
)


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ["number", "name", "status", "grade", "owner", "department"]
    list_filter = ["status", "grade", "priority", "source"]
    search_fields = ["number", "name", "credit_code"]
    raw_id_fields = ["owner", "created_by", "verified_by"]
    list_select_related = ["owner", "department"]

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # the admin writes past the services; status, grade or owner may have changed
        hooks.customers_changed([obj.pk])


@admin.register(Contact)
class ContactAdmin(SimpleHistoryAdmin):
    list_display = ["name", "customer", "title", "mobile", "email", "is_active"]
    search_fields = ["name", "mobile", "email"]
    raw_id_fields = ["customer"]


@admin.register(CustomerAttachment)
class CustomerAttachmentAdmin(admin.ModelAdmin):
    list_display = ["original_name", "customer", "size", "content_type", "uploaded_at"]
    raw_id_fields = ["customer", "uploaded_by"]


@admin.register(CustomerShare)
class CustomerShareAdmin(admin.ModelAdmin):
    list_display = ["customer", "user", "can_edit", "created_at"]
    raw_id_fields = ["customer", "user", "shared_by"]


@admin.register(StatusChange)
class StatusChangeAdmin(admin.ModelAdmin):
    list_display = ["customer", "old_status", "new_status", "changed_by", "changed_at"]
    raw_id_fields = ["customer", "changed_by"]


admin.site.register(Tag)
admin.site.register(Industry)
admin.site.register(Region)
admin.site.register(SavedFilter)
