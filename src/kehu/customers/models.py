"""Customers (客户), contacts (联系人), tags, and the reference data they point to."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from kehu.core.access import AccessPolicy, ScopedQuerySet
from kehu.core.history import HISTORY_BASES
from kehu.core.models import TimestampedModel, VersionedModel
from kehu.customers.search_index import CONTACT_FTS, CUSTOMER_FTS, MatchField

TO_VERIFY = "待核实"  # the handbooks' marker for "known to exist, not yet confirmed"


class Industry(models.Model):
    """GB/T 4754-2017: sections (门类, one letter) and divisions (大类, two digits)."""

    code = models.CharField(_("code"), max_length=4, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="divisions"
    )

    class Meta:
        verbose_name = _("industry")
        verbose_name_plural = _("industries")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.parent.name}-{self.name}" if self.parent_id and self.parent else self.name

    @property
    def section_code(self) -> str:
        return self.parent_id or self.code


class Region(models.Model):
    """GB/T 2260: provinces (level 1) and prefecture-level cities (level 2)."""

    code = models.CharField(_("code"), max_length=6, primary_key=True)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=100)
    abbreviation = models.CharField(_("province code"), max_length=2)
    level = models.PositiveSmallIntegerField(_("level"))
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]

    def __str__(self) -> str:
        if self.parent_id and self.parent:
            return f"{self.parent.name}{self.name}"
        return self.name


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    color = models.CharField(_("colour"), max_length=20, default="secondary")
    is_predefined = models.BooleanField(_("predefined"), default=False)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomerKind(models.TextChoices):
    COMPANY = "company", _("Company (B2B)")
    INDIVIDUAL = "individual", _("Individual")


class CustomerStatus(models.TextChoices):
    POTENTIAL = "potential", _("Potential customer")
    INTENT = "intent", _("Intent customer")
    WON = "won", _("Won customer")
    CHURNED = "churned", _("Churned customer")


class Source(models.TextChoices):
    TRADE_SHOW = "trade_show", _("Trade show")
    WEBSITE = "website", _("Website form")
    INBOUND_CALL = "inbound_call", _("Inbound call")
    REFERRAL = "referral", _("Referral")
    SOCIAL_MEDIA = "social_media", _("Social media")
    COLD_VISIT = "cold_visit", _("Cold visit")
    MARKET_RESEARCH = "market_research", _("Market research")
    OTHER = "other", _("Other")


class Priority(models.TextChoices):
    S = "S", _("S: first contact within 24 hours")
    A = "A", _("A: first contact within 3 days")
    B = "B", _("B: first contact within 7 days")


class Grade(models.TextChoices):
    A = "A", _("A: high value")
    B = "B", _("B: medium value")
    C = "C", _("C: low value")
    D = "D", _("D: minimal value")


class EmployeesBand(models.TextChoices):
    UNDER_50 = "lt50", _("Under 50 employees")
    FROM_50 = "50-300", _("50-300 employees")
    FROM_300 = "300-500", _("300-500 employees")
    OVER_500 = "gt500", _("Over 500 employees")


class RevenueBand(models.TextChoices):
    UNDER_5M = "lt5m", _("Under 5 million yuan")
    FROM_5M = "5m-50m", _("5-50 million yuan")
    FROM_50M = "50m-500m", _("50-500 million yuan")
    OVER_500M = "gt500m", _("Over 500 million yuan")


class VerificationChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    WEBSITE = "website", _("Official website")
    TIANYANCHA = "tianyancha", _("Tianyancha / business registry")
    VISIT = "visit", _("On-site visit")


def _customer_shared_ids(user: Any, write: bool) -> models.QuerySet[Any, Any]:
    shares = CustomerShare.objects.filter(user=user)
    if write:
        shares = shares.filter(can_edit=True)
    return shares.values("customer_id")


def effective_grade_sql() -> models.Func:
    """``Customer.effective_grade`` in SQL: the manual grade where one is set, else the
    computed one. The list sorts and filters by it, along the index of the same expression."""
    return Coalesce(NullIf("grade_override", models.Value("")), "grade")


# What the dashboard panel reads of each customer (selectors.panel_figures)
PANEL_COLUMNS = ["completeness", "contact_info_updated_at", "verified_at", "first_contact_at"]


class Customer(VersionedModel):
    number = models.CharField(_("customer number"), max_length=40, unique=True, editable=False)
    name = models.CharField(_("customer name"), max_length=200)
    kind = models.CharField(
        _("type"), max_length=20, choices=CustomerKind.choices, default=CustomerKind.COMPANY
    )
    credit_code = models.CharField(
        _("unified social credit code"), max_length=18, null=True, blank=True, unique=True
    )
    industry = models.ForeignKey(
        Industry, verbose_name=_("industry"), null=True, blank=True, on_delete=models.PROTECT
    )
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT
    )
    employees_band = models.CharField(
        _("employees"), max_length=10, choices=EmployeesBand.choices, blank=True
    )
    revenue_band = models.CharField(
        _("annual revenue"), max_length=10, choices=RevenueBand.choices, blank=True
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True)
    source_detail = models.CharField(_("source detail"), max_length=200, blank=True)
    initial_need = models.TextField(_("initial need"), max_length=5000, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    website = models.URLField(_("website"), max_length=300, blank=True)
    social_accounts = models.CharField(_("social accounts"), max_length=300, blank=True)
    founded_on = models.DateField(_("founding date"), null=True, blank=True)
    main_business = models.CharField(_("main business"), max_length=500, blank=True)
    notes = models.TextField(_("notes"), max_length=10000, blank=True)
    competitors = models.CharField(_("competitors"), max_length=500, blank=True)
    cooperation_history = models.TextField(_("cooperation history"), max_length=5000, blank=True)
    annual_budget = models.DecimalField(
        _("annual budget (yuan)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    status = models.CharField(
        _("status"), max_length=20, choices=CustomerStatus.choices, default=CustomerStatus.POTENTIAL
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_customers",
        db_index=False,  # customer_owner_recent (owner, -id) serves every owner look-up
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customers",
        db_index=False,  # customer_dept_recent (department, -id) serves every look-up
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    priority = models.CharField(_("priority"), max_length=1, choices=Priority.choices, blank=True)
    grade = models.CharField(_("grade"), max_length=1, choices=Grade.choices, blank=True)
    grade_override = models.CharField(
        _("manual grade"), max_length=1, choices=Grade.choices, blank=True
    )
    grade_override_reason = models.CharField(
        _("reason for manual grade"), max_length=300, blank=True
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="customers")
    to_verify = models.JSONField(
        _("fields to be verified"), default=list, blank=True, help_text=TO_VERIFY
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("verified by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_via = models.CharField(
        _("verified via"), max_length=20, choices=VerificationChannel.choices, blank=True
    )
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)
    contact_info_updated_at = models.DateTimeField(
        _("contact information updated"), default=timezone.now
    )
    # Search keys kept by the service on every write: normalised name, pinyin and digits.
    name_key = models.CharField(max_length=200, editable=False, db_index=True, default="")
    search_text = models.TextField(editable=False, default="")
    completeness = models.PositiveSmallIntegerField(
        _("completeness (%)"), default=0, editable=False
    )

    custom = models.JSONField(_("custom fields"), default=dict, blank=True)  # 自定义字段
    objects: ClassVar[ScopedQuerySet[Customer]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = AccessPolicy(
        shared_ids=_customer_shared_ids,
        role_view={"marketing": lambda user: models.Q(pk__isnull=False)},
        sensitive_fields=("annual_budget", "cooperation_history"),
    )
    history = HistoricalRecords(
        bases=HISTORY_BASES,
        excluded_fields=["name_key", "search_text", "completeness", "updated_at"],
        # history is read by customer (id) only; an index per copied column made every
        # customer write maintain eight more B-trees (twelve on PostgreSQL, with _like)
        no_db_index=[
            "number",
            "credit_code",
            "owner",
            "department",
            "created_by",
            "verified_by",
            "industry",
            "region",
        ],
    )

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-id"]
        indexes = [
            # PostgreSQL: both carry the dashboard panel's columns, so it reads a user's own
            # customers and a manager's departments from an index alone (panel_figures)
            models.Index(
                fields=["owner", "-id"],
                name="customer_owner_recent",
                include=["department", *PANEL_COLUMNS],
            ),
            models.Index(
                fields=["department", "-id"], name="customer_dept_recent", include=PANEL_COLUMNS
            ),
            models.Index(fields=["status", "-id"], name="customer_status_recent"),
            models.Index(fields=["contact_info_updated_at"], name="customer_contact_age"),
            # The list's sorts by name, creation, last contact, last change and grade
            # (selectors.SORTS), read along these in either direction: without them a
            # manager's list sorted so sorted all 443,000 visible customers for each page
            # (0.5–0.8 s at size L). The last change's index makes every save of a customer
            # update all its indexes (PostgreSQL can no longer update the row in place), a
            # fraction of a millisecond, where "recently changed" is a list people open
            # daily.
            models.Index(fields=["name", "id"], name="customer_name_order"),
            models.Index(fields=["created_at", "id"], name="customer_created_order"),
            models.Index(fields=["last_contact_at", "id"], name="customer_contact_order"),
            models.Index(fields=["updated_at", "id"], name="customer_updated_order"),
            models.Index(effective_grade_sql(), F("id").desc(), name="customer_grade_order"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_grade(self) -> str:
        return self.grade_override or self.grade


class Gender(models.TextChoices):
    """How a contact is addressed in letters and messages: 王先生 / 李女士 (称呼)."""

    MALE = "m", _("Mr (先生)")
    FEMALE = "f", _("Ms (女士)")


class Contact(VersionedModel):
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="contacts",
        db_index=False,  # contact_list_order (customer, …) serves every look-up by customer
    )
    name = models.CharField(_("name"), max_length=100)
    gender = models.CharField(
        _("form of address"), max_length=1, choices=Gender.choices, blank=True
    )
    title = models.CharField(_("title"), max_length=100, blank=True)
    work_phone = models.CharField(_("work phone"), max_length=32, blank=True)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    # Why a mobile is kept beside a work number (the handbooks keep private numbers out)
    mobile_reason = models.CharField(_("reason for the mobile"), max_length=300, blank=True)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    wechat = models.CharField(_("WeChat"), max_length=64, blank=True)
    is_decision_maker = models.BooleanField(_("decision maker"), default=False)
    is_primary = models.BooleanField(_("primary contact"), default=False)
    is_active = models.BooleanField(
        _("still at the customer"),
        default=True,
        help_text=_("Contacts who left are kept for history, not deleted."),
    )
    left_at = models.DateTimeField(_("left on"), null=True, blank=True)
    notes = models.CharField(_("notes"), max_length=1000, blank=True)

    custom = models.JSONField(_("custom fields"), default=dict, blank=True)  # 自定义字段
    # The searchable custom values, folded, for the contact search's index
    # (``normalize.contact_custom_text``; set by every write of ``custom``)
    custom_text = models.TextField(editable=False, default="", blank=True)
    history = HistoricalRecords(bases=HISTORY_BASES, excluded_fields=["updated_at", "custom_text"])

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        # A customer's contacts: active first, the primary first, by name; the id makes the
        # order total, so that pages never repeat or skip a contact.
        ordering = ["-is_active", "-is_primary", "name", "id"]
        indexes = [
            # The contact list's order (selectors.CONTACT_ORDER) and a customer's contacts in
            # the default order: read along it, a page stops after its rows where the list
            # sorted all 200,000 contacts of size M first (173 ms).
            models.Index(
                fields=["customer", "-is_active", "-is_primary", "name", "id"],
                name="contact_list_order",
            ),
            # The contact list's other sorts: a manager's or an administrator's list walks
            # them and stops after a page, where it sorted every contact in scope (size M:
            # 320–650 ms; selectors.CONTACT_SORTS)
            models.Index(fields=["name", "id"], name="contact_name_order"),
            models.Index(fields=["created_at", "id"], name="contact_created_order"),
            models.Index(fields=["mobile"], name="contact_mobile"),
            models.Index(fields=["email"], name="contact_email"),
            models.Index(fields=["work_phone"], name="contact_work_phone"),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerShare(TimestampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_shares"
    )
    can_edit = models.BooleanField(_("may edit"), default=False)
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("customer share")
        verbose_name_plural = _("customer shares")
        constraints = [
            models.UniqueConstraint(fields=["customer", "user"], name="customer_share_unique")
        ]

    def __str__(self) -> str:
        return f"{self.customer} → {self.user}"


class StatusChange(models.Model):
    """A business event: the customer's lifecycle status moved, by whom and why."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="status_changes")
    old_status = models.CharField(max_length=20, choices=CustomerStatus.choices, blank=True)
    new_status = models.CharField(max_length=20, choices=CustomerStatus.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.customer}: {self.old_status} → {self.new_status}"


class NumberSequence(models.Model):
    """The last number handed out per customer-number prefix; rows are locked while numbering."""

    prefix = models.CharField(max_length=60, primary_key=True)
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("number sequence")
        verbose_name_plural = _("number sequences")

    def __str__(self) -> str:
        return f"{self.prefix}{self.last_value}"


def attachment_path(instance: CustomerAttachment, filename: str) -> str:
    # The stored name is random; the original name is kept in the row and sent on download.
    import uuid
    from pathlib import PurePath

    suffix = PurePath(filename).suffix.lower()[:10]
    return f"customers/{instance.customer_id}/{uuid.uuid4().hex}{suffix}"


class CustomerAttachment(models.Model):
    """A file on a customer (资质文件, 意向书, 会议纪要, 名片, 拜访照片).

    Downloaded only through a view that checks the customer is visible to the user.
    """

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("content type"), max_length=100)
    description = models.CharField(_("description"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.original_name


class SavedFilter(models.Model):
    """A user's named filter of one list (``list_name``): the list's query string.

    One model for every list page that saves filters (customers, leads, deals, tickets), so
    one service, selector, form and template serve them all and data governance finds every
    saved filter in one table."""

    class ListName(models.TextChoices):
        CUSTOMERS = "customers", pgettext_lazy("saved filter list", "Customers")
        LEADS = "leads", pgettext_lazy("saved filter list", "Leads")
        OPPORTUNITIES = "opportunities", pgettext_lazy("saved filter list", "Opportunities")
        TICKETS = "tickets", pgettext_lazy("saved filter list", "Tickets")
        CONTACTS = "contacts", pgettext_lazy("saved filter list", "Contacts")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_filters"
    )
    list_name = models.CharField(
        pgettext_lazy("saved filter", "list"),
        max_length=20,
        choices=ListName.choices,
        default=ListName.CUSTOMERS,
    )
    name = models.CharField(_("name"), max_length=60)
    query = models.CharField(_("filter"), max_length=1000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "list_name", "name"], name="saved_filter_unique_per_list"
            )
        ]

    def __str__(self) -> str:
        return self.name


class CustomerSearchIndex(models.Model):
    """SQLite only: the FTS5 trigram index of ``Customer.search_text`` (``search_index``).

    Unmanaged: migration 0014 creates the virtual table and the triggers that fill it; the
    model only lets the selectors filter it through the ORM (``pk`` is the customer's id).
    """

    id = models.BigIntegerField(primary_key=True, db_column="rowid")
    document = MatchField(db_column=CUSTOMER_FTS)

    class Meta:
        managed = False
        db_table = CUSTOMER_FTS
        default_permissions = ()

    def __str__(self) -> str:
        return str(self.pk)


class ContactSearchIndex(models.Model):
    """SQLite only: the FTS5 trigram index of contacts' name, email and phones, as
    ``CustomerSearchIndex`` (``pk`` is the contact's id)."""

    id = models.BigIntegerField(primary_key=True, db_column="rowid")
    document = MatchField(db_column=CONTACT_FTS)

    class Meta:
        managed = False
        db_table = CONTACT_FTS
        default_permissions = ()

    def __str__(self) -> str:
        return str(self.pk)
