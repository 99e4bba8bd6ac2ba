"""Marketing (市场营销活动管理): segments, campaigns with their members, costs and goals,
message templates and sends, consent per contact and channel, and the touches that
attribute leads and deals to campaigns.

Who sees what (``AccessPolicy``): marketing manages every segment and campaign; a manager
sees those of their departments; a rep those they own; admins all. Members are read
through their campaign; a member's customer and contact stay masked by the customers'
own policy (``kehu.customers`` decides what marketing sees of a contact).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core.access import AccessPolicy, ScopedQuerySet
from kehu.core.models import TimestampedModel, VersionedModel


def _every_row(user: Any) -> Q:
    return Q(pk__isnull=False)


# Marketing works on every segment and campaign of the company, as it reads every customer.
MARKETING_MANAGES: dict[str, Callable[[Any], Q]] = {"marketing": _every_row}


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    WECOM = "wecom", _("WeCom (企业微信)")


# --- Segments (客户分群) ---------------------------------------------------------------------
class SegmentTarget(models.TextChoices):
    CUSTOMERS = "customers", _("Customers")
    CONTACTS = "contacts", _("Contacts")
    LEADS = "leads", _("Leads")


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", _("Conditions (updated live)")
    STATIC = "static", _("Static list")


class Segment(VersionedModel):
    """Saved, named conditions (``conditions``: AND/OR groups, see ``selectors.segments``)
    over customers, contacts or leads; or a static list of picked or imported rows."""

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=500, blank=True)
    target = models.CharField(
        _("who"), max_length=10, choices=SegmentTarget.choices, default=SegmentTarget.CUSTOMERS
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC
    )
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The last count (live counts are recomputed on the page; lists show this one)
    last_count = models.PositiveIntegerField(
        pgettext_lazy("segment", "size"), null=True, blank=True
    )
    counted_at = models.DateTimeField(_("counted"), null=True, blank=True)

    objects: ClassVar[ScopedQuerySet[Segment]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = AccessPolicy(role_view=MARKETING_MANAGES, role_edit=MARKETING_MANAGES)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class SegmentEntry(models.Model):
    """One row of a static segment: exactly one of customer, contact or lead (its target)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="entries")
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("segment entry")
        verbose_name_plural = _("segment entries")
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "customer"],
                condition=Q(customer__isnull=False),
                name="segment_entry_customer",
            ),
            models.UniqueConstraint(
                fields=["segment", "contact"],
                condition=Q(contact__isnull=False),
                name="segment_entry_contact",
            ),
            models.UniqueConstraint(
                fields=["segment", "lead"],
                condition=Q(lead__isnull=False),
                name="segment_entry_lead",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.customer_id or self.contact_id or self.lead_id}"


# --- Campaigns (营销活动) --------------------------------------------------------------------
class CampaignKind(models.TextChoices):
    TRADE_SHOW = "trade_show", _("Trade show (行业展会)")
    WEBINAR = "webinar", _("Webinar (线上研讨会)")
    EMAIL = "email", _("E-mail marketing (邮件营销)")
    CONTENT = "content", _("Content marketing (内容营销)")
    ADVERTISING = "advertising", _("Advertising (广告投放)")
    EVENT = "event", _("Offline event (线下活动)")


class CampaignStatus(models.TextChoices):
    PLANNED = "planned", pgettext_lazy("campaign status", "Planned")
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    CANCELLED = "cancelled", _("Cancelled")


class Campaign(VersionedModel):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("type"), max_length=20, choices=CampaignKind.choices)
    status = models.CharField(
        pgettext_lazy("campaign", "status"),
        max_length=20,
        choices=CampaignStatus.choices,
        default=CampaignStatus.PLANNED,
    )
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    budget = models.DecimalField(
        _("budget (¥)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    description = models.TextField(_("description"), max_length=5000, blank=True)
    # 复盘: what went well, what did not, what to do next time (the figures are computed)
    review = models.TextField(_("review notes"), max_length=10000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects: ClassVar[ScopedQuerySet[Campaign]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = AccessPolicy(role_view=MARKETING_MANAGES, role_edit=MARKETING_MANAGES)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_on", "-id"]
        indexes = [
            models.Index(fields=["department", "-starts_on"], name="campaign_dept_recent"),
            models.Index(fields=["owner", "-starts_on"], name="campaign_owner_recent"),
        ]

    def __str__(self) -> str:
        return self.name


class GoalMetric(models.TextChoices):
    LEADS = "leads", _("New leads")
    CUSTOMERS = "customers", _("New customers")
    OPPORTUNITIES = "opportunities", _("Opportunities")
    WON_AMOUNT = "won_amount", _("Won amount (¥)")
    RESPONSES = "responses", _("Responses")


class CampaignGoal(models.Model):
    """A planned figure, e.g. 新增30家制造业中小企业 (customers, industry C), 华东区20家
    (customers, region 华东…): the review compares it with what the campaign brought."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="goals")
    label = models.CharField(_("goal"), max_length=200)
    metric = models.CharField(_("measured by"), max_length=20, choices=GoalMetric.choices)
    target = models.DecimalField(_("target"), max_digits=14, decimal_places=2)
    industry = models.ForeignKey(
        "customers.Industry",
        verbose_name=_("industry"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    region = models.ForeignKey(
        "customers.Region",
        verbose_name=_("region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("campaign goal")
        verbose_name_plural = _("campaign goals")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.label


class CostCategory(models.TextChoices):
    VENUE = "venue", _("Venue and booth")
    ADVERTISING = "advertising", _("Advertising")
    MATERIALS = "materials", _("Materials and gifts")
    TRAVEL = "travel", _("Travel")
    MESSAGING = "messaging", _("SMS and e-mail fees")
    AGENCY = "agency", _("Agency and services")
    OTHER = "other", _("Other")


class CampaignCost(TimestampedModel):
    """An actual cost (实际费用): several per campaign; never dated in the future."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="costs")
    spent_on = models.DateField(_("date"))
    amount = models.DecimalField(_("amount (¥)"), max_digits=14, decimal_places=2)
    category = models.CharField(_("category"), max_length=20, choices=CostCategory.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("campaign cost")
        verbose_name_plural = _("campaign costs")
        ordering = ["-spent_on", "-id"]


class CampaignForm(models.Model):
    """A lead web form attached to a campaign: the leads it captures carry the campaign."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="forms")
    web_form = models.OneToOneField(
        "leads.WebForm", on_delete=models.CASCADE, related_name="campaign_link"
    )
    attached_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("campaign web form")
        verbose_name_plural = _("campaign web forms")

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.web_form_id}"


class Response(models.TextChoices):
    """A member's furthest response, in order: 邀请 → 报名 → 参加 → 回复/感兴趣."""

    INVITED = "invited", _("Invited (邀请)")
    REGISTERED = "registered", _("Registered (报名)")
    ATTENDED = "attended", _("Attended (参加)")
    INTERESTED = "interested", _("Replied / interested (回复/感兴趣)")


RESPONSE_ORDER = [choice.value for choice in Response]


class CampaignMember(models.Model):
    """A contact or a lead in a campaign (one of the two), with their response.

    ``customer`` is the contact's customer (or the lead's, once converted), kept here so the
    member list, the timelines and the attribution read one table.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # campaign_member_customer
    )
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    response = models.CharField(
        _("response"), max_length=20, choices=Response.choices, default=Response.INVITED
    )
    responded_at = models.DateTimeField(_("responded"), null=True, blank=True)
    added_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")
        ordering = ["-id"]
        indexes = [
            # The member list: a campaign's members, newest first, by response
            models.Index(fields=["campaign", "-id"], name="campaign_member_recent"),
            models.Index(fields=["campaign", "response", "-id"], name="campaign_member_response"),
            models.Index(fields=["customer", "campaign"], name="campaign_member_customer"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"],
                condition=Q(contact__isnull=False),
                name="campaign_member_contact",
            ),
            models.UniqueConstraint(
                fields=["campaign", "lead"],
                condition=Q(lead__isnull=False),
                name="campaign_member_lead",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.contact_id or self.lead_id}"


# --- Outreach: templates, sends, messages ---------------------------------------------------
class MessageTemplate(VersionedModel):
    """A message with merge fields ({{ salutation }}, {{ company }}, {{ owner_name }}, …).

    SMS providers send only templates they approved: ``provider_template`` is that id
    (Aliyun TemplateCode, Tencent TemplateId), and ``body`` names the merge fields in the
    order of the provider's parameters.
    """

    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"), max_length=20000)
    provider_template = models.CharField(_("provider template id"), max_length=64, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects: ClassVar[ScopedQuerySet[MessageTemplate]] = ScopedQuerySet.as_manager()  # type: ignore[assignment]
    access_policy = AccessPolicy(role_view=MARKETING_MANAGES, role_edit=MARKETING_MANAGES)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SendStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Send(TimestampedModel):
    """One send of a template to a campaign's members (or a test send to oneself)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="sends")
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(
        pgettext_lazy("campaign", "status"),
        max_length=20,
        choices=SendStatus.choices,
        default=SendStatus.QUEUED,
    )
    is_test = models.BooleanField(_("test send"), default=False)
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    total = models.PositiveIntegerField(_("recipients"), default=0)
    sent = models.PositiveIntegerField(pgettext_lazy("campaign", "sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    # Members left out and why: {"no_consent": 12, "unsubscribed": 3, "no_address": 5}
    skipped = models.JSONField(_("skipped"), default=dict, blank=True)
    # When the job wrote the Message rows (total and skipped are 0/{} until then); a test
    # send is prepared when it is created.
    prepared_at = models.DateTimeField(_("recipients prepared"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("send")
        verbose_name_plural = _("sends")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "scheduled_for"], name="send_due")]

    @property
    def preparing(self) -> bool:
        """Queued or started, but the job has not yet written its recipients."""
        return self.prepared_at is None and self.status in (SendStatus.QUEUED, SendStatus.SENDING)


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Message(models.Model):
    """One recipient of a send, with its status and, when it failed, the reason."""

    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="messages")
    member = models.ForeignKey(
        CampaignMember, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    address = models.CharField(_("address"), max_length=254)
    status = models.CharField(
        pgettext_lazy("campaign", "status"),
        max_length=10,
        choices=MessageStatus.choices,
        default=MessageStatus.QUEUED,
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    provider_id = models.CharField(_("provider message id"), max_length=100, blank=True)
    sent_at = models.DateTimeField(pgettext_lazy("time", "sent"), null=True, blank=True)

    class Meta:
        verbose_name = pgettext_lazy("campaign", "message")
        verbose_name_plural = _("messages")
        ordering = ["id"]
        indexes = [models.Index(fields=["send", "status", "id"], name="message_send_status")]

    def __str__(self) -> str:
        return f"{self.send_id}: {self.address}"


# --- Consent (营销同意/退订) -----------------------------------------------------------------
class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Agreed (同意)")
    WITHDRAWN = "withdrawn", _("Unsubscribed (退订)")


class ConsentSource(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    IMPORT = "import", _("Import")
    STAFF = "staff", _("Recorded by staff")
    UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
    REPLY = "reply", _("Reply (e.g. TD)")
    API = "api", _("API")


class Consent(models.Model):
    """The current marketing consent of one contact or lead on one channel.

    ``ConsentChange`` keeps every change; a withdrawal is honoured forever: only the person
    (a new web-form opt-in) or staff with a recorded reason can grant it again.
    """

    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(_("consent"), max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(_("source"), max_length=20, choices=ConsentSource.choices)
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        verbose_name = _("marketing consent")
        verbose_name_plural = _("marketing consents")
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "channel"],
                condition=Q(contact__isnull=False),
                name="consent_contact_channel",
            ),
            models.UniqueConstraint(
                fields=["lead", "channel"],
                condition=Q(lead__isnull=False),
                name="consent_lead_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.status}"


class ConsentChange(models.Model):
    """Every grant and withdrawal, with when, how and who (the record PIPL asks for)."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="changes")
    status = models.CharField(_("consent"), max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(_("source"), max_length=20, choices=ConsentSource.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    send = models.ForeignKey(
        Send, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.consent_id}: {self.status}"


# --- Touches: what attribution reads ---------------------------------------------------------
class TouchKind(models.TextChoices):
    ADDED = "added", _("Added to the campaign")
    MESSAGE = "message", _("Message sent")
    RESPONSE = "response", _("Responded")
    LEAD = "lead", _("Lead captured")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class Touch(models.Model):
    """A campaign reaching a person: attribution's first and last touch and the timelines.

    ``customer`` is set whenever the person belongs to one (a contact's customer, a
    converted lead's customer), so a customer's journey is one index range.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="touches")
    kind = models.CharField(_("kind"), max_length=20, choices=TouchKind.choices)
    at = models.DateTimeField(pgettext_lazy("campaign", "when"), default=timezone.now)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # touch_customer
    )
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # touch_lead
    )
    detail = models.CharField(_("detail"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("campaign touch")
        verbose_name_plural = _("campaign touches")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["customer", "at"], name="touch_customer"),
            models.Index(fields=["lead", "at"], name="touch_lead"),
            models.Index(fields=["campaign", "kind", "at"], name="touch_campaign"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.kind}"
