from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from kehu.opportunities.models import LossReason, Opportunity, Stage, StageChange, WorkflowRule


@admin.register(Opportunity)
class OpportunityAdmin(SimpleHistoryAdmin):
    list_display = ["name", "customer", "stage", "owner", "amount", "expected_close"]
    list_select_related = ["customer", "stage", "owner"]
    raw_id_fields = ["customer", "owner", "created_by"]
    search_fields = ["name", "customer__name"]


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["order", "name_zh", "name_en", "kind", "default_probability", "probability"]
    list_display_links = ["name_zh"]


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ["opportunity", "stage", "entered_at", "entered_by", "exited_at"]
    raw_id_fields = ["opportunity", "entered_by", "exited_by"]


admin.site.register(LossReason)
admin.site.register(WorkflowRule)
