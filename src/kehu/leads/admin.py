from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from kehu.leads.models import AssignmentRule, AssignmentRun, Lead, LeadEvent, PriorityRule, WebForm


@admin.register(Lead)
class LeadAdmin(SimpleHistoryAdmin):
    list_display = ["id", "company_name", "contact_name", "status", "priority", "assignee"]
    list_filter = ["status", "priority", "source"]
    search_fields = ["company_name", "contact_name", "mobile", "email"]
    raw_id_fields = ["assignee", "customer", "created_by", "invalidated_by", "converted_by"]
    list_select_related = ["assignee"]


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(SimpleHistoryAdmin):
    list_display = ["position", "name", "is_active", "department"]
    list_display_links = ["name"]
    filter_horizontal = ["reps"]


@admin.register(PriorityRule)
class PriorityRuleAdmin(SimpleHistoryAdmin):
    list_display = ["position", "source", "urgency", "min_value", "priority"]
    list_editable = ["source", "urgency", "min_value", "priority"]
    list_display_links = ["position"]


@admin.register(WebForm)
class WebFormAdmin(SimpleHistoryAdmin):
    list_display = ["name", "source", "campaign", "is_active"]
    readonly_fields = ["key", "secret"]


@admin.register(LeadEvent)
class LeadEventAdmin(admin.ModelAdmin):
    list_display = ["lead", "kind", "actor", "at"]
    raw_id_fields = ["lead", "actor"]


admin.site.register(AssignmentRun)
