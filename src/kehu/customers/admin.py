from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from kehu.customers.models import Contact, Customer, Industry, Region, Tag


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ["number", "name", "status", "owner", "department"]
    search_fields = ["number", "name"]
    raw_id_fields = ["owner", "created_by", "verified_by"]
    list_select_related = ["owner", "department"]


@admin.register(Contact)
class ContactAdmin(SimpleHistoryAdmin):
    list_display = ["name", "customer", "title", "mobile", "email", "is_active"]
    raw_id_fields = ["customer"]


admin.site.register(Tag)
admin.site.register(Industry)
admin.site.register(Region)
