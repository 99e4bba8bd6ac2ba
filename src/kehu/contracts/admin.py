from django.contrib import admin

from kehu.contracts.models import Contract, Payment, PaymentPlan


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "opportunity", "amount", "status", "draft_due")
    list_filter = ("status",)
    search_fields = ("number", "title")
    raw_id_fields = ("opportunity",)


@admin.register(PaymentPlan)
class PaymentPlanAdmin(admin.ModelAdmin):
    list_display = ("contract", "sequence", "due_on", "amount")
    raw_id_fields = ("contract",)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("contract", "amount", "received_on", "method", "invoice_status")
    raw_id_fields = ("contract", "plan")
