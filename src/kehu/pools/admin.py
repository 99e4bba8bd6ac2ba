from django.contrib import admin

from kehu.pools.models import Offboarding, Pool, PoolEntry, PoolEvent, RevealLog


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ["name", "max_held_per_rep", "max_claims_per_day", "is_active"]
    filter_horizontal = ["departments"]


@admin.register(PoolEntry)
class PoolEntryAdmin(admin.ModelAdmin):
    list_display = ["customer", "pool", "entered_at", "reason"]
    list_select_related = ["customer", "pool"]
    raw_id_fields = ["customer", "released_by", "previous_owner"]


@admin.register(PoolEvent)
class PoolEventAdmin(admin.ModelAdmin):
    list_display = ["at", "kind", "pool", "customer", "user", "actor"]
    list_select_related = ["pool", "customer", "user", "actor"]
    raw_id_fields = ["customer", "user", "actor"]


@admin.register(Offboarding)
class OffboardingAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "actor", "mode"]
    readonly_fields = ["summary"]


@admin.register(RevealLog)
class RevealLogAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "contact", "customer"]
    raw_id_fields = ["contact", "customer"]
