from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from kehu.accounts import services
from kehu.accounts.models import ApiToken, Department, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin, SimpleHistoryAdmin):
    list_display = ["username", "display_name", "role", "department", "is_active"]
    list_filter = ["role", "department", "is_active"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("CRM"), {"fields": ("role", "department", "display_name", "mobile", "language")}),
    )

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """Save, and audit a role or department change (``accounts.role_changed``…)."""
        before = User.objects.filter(pk=obj.pk).values("role", "department_id").first()
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if before is not None:
                services.user_changes_record(
                    actor=request.user,
                    user=obj,
                    role_before=before["role"],
                    department_before=before["department_id"],
                )


@admin.register(Department)
class DepartmentAdmin(SimpleHistoryAdmin):
    list_display = ["name", "parent", "head", "path"]
    search_fields = ["name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "secret_hash"]
