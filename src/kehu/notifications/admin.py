from django.contrib import admin

from kehu.notifications.models import Channel, Delivery, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "recipient", "kind", "created_at", "read_at"]
    list_filter = ["kind"]
    search_fields = ["title", "recipient__username"]
    raw_id_fields = ["recipient", "actor"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "target", "digest", "is_active"]
    list_filter = ["kind", "digest", "is_active"]
    raw_id_fields = ["user"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["subject", "channel", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "channel__kind"]
    search_fields = ["subject", "last_error", "channel__user__username"]
    readonly_fields = ["channel", "notification", "dedupe_key", "attempts", "last_error", "sent_at"]
