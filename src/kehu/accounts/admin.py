from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from kehu.accounts import services
from kehu.accounts.models import ApiToken, Department, User
from kehu.core import audit


class PasswordSetByAdminForm(AdminPasswordChangeForm):
    """A password an administrator sets for someone else: the user replaces it at sign-in.

    The policy check is Django's (``validate_password``, our ``PolicyValidator``)."""

    def save(self, commit: bool = True) -> Any:
        self.user.must_change_password = True
        return super().save(commit=commit)


@admin.register(User)
class UserAdmin(DjangoUserAdmin, SimpleHistoryAdmin):
    list_display = ["username", "display_name", "role", "department", "is_active"]
    list_filter = ["role", "department", "is_active"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (
            _("CRM"),
            {
                "fields": (
                    "role",
                    "department",
                    "display_name",
                    "mobile",
                    "language",
                    "must_change_password",
                )
            },
        ),
    )
    change_password_form = PasswordSetByAdminForm

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # the form was saved
            audit.record(
                "security.password_changed",
                actor=request.user,
                target=("accounts.user", id),
                details={"own": str(request.user.pk) == str(id), "must_change": True},
            )
        return response

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """Save, and audit a role or department change (``accounts.role_changed``…)."""
        if not change and obj.has_usable_password():
            obj.must_change_password = True  # the administrator chose it: replaced at sign-in
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
