from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from kehu.followups.models import Attachment, CadencePlan, CareDate, FollowUp, Task


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    readonly_fields = ["name", "size", "content_type", "uploaded_by"]


@admin.register(FollowUp)
class FollowUpAdmin(SimpleHistoryAdmin):
    list_display = ["customer", "author", "method", "sentiment", "occurred_at", "verified"]
    list_filter = ["method", "sentiment", "verified"]
    search_fields = ["customer__name", "content"]
    raw_id_fields = ["customer", "contact", "author", "next_step_owner"]
    inlines = [AttachmentInline]


@admin.register(Task)
class TaskAdmin(SimpleHistoryAdmin):
    list_display = ["title", "assignee", "kind", "status", "priority", "due_at"]
    list_filter = ["status", "kind", "priority"]
    search_fields = ["title", "customer__name", "assignee__username"]
    raw_id_fields = ["assignee", "created_by", "customer", "followup"]


@admin.register(CadencePlan)
class CadencePlanAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "grade", "interval_days", "is_active"]
    list_editable = ["interval_days", "is_active"]


@admin.register(CareDate)
class CareDateAdmin(admin.ModelAdmin):
    list_display = ["date", "name", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    list_editable = ["is_active"]
    date_hierarchy = "date"
