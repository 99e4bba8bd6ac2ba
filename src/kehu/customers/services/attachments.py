"""Customer attachments: type and size checks, storage, deletion."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import User
from kehu.core import audit, config, uploads
from kehu.customers.models import (
    Customer,
    CustomerAttachment,
)
from kehu.customers.services._access import _require_editable
from kehu.customers.services._cleaning import _field_error

ATTACHMENT_MAX_MB = config.define(
    "customers.attachment_max_mb",
    20,
    gettext_lazy("Largest customer attachment, in megabytes"),
    unit=config.MEGABYTES,
    minimum=1,
    maximum=500,
    help=gettext_lazy(
        "Uploads to a customer above this size are refused (qualification documents, letters of "
        "intent, photos)."
    ),
)
# The types a customer may be sent; their content is checked by core.uploads.
ATTACHMENT_TYPES = (
    "pdf",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "webp",
    "doc",
    "xls",
    "ppt",
    "docx",
    "xlsx",
    "pptx",
    "txt",
)


@transaction.atomic
def attachment_add(
    *, actor: User, customer: Customer, upload: Any, description: str = ""
) -> CustomerAttachment:
    """Store an uploaded file on the customer: allowed types only, at most the size limit."""
    locked = _require_editable(actor, customer)
    name = str(getattr(upload, "name", "") or "").replace("\\", "/").split("/")[-1].strip()
    extension = uploads.extension_of(name)
    if extension not in ATTACHMENT_TYPES:
        raise _field_error(
            "file",
            _("Files of this type cannot be attached; allowed: %(types)s.")
            % {"types": ", ".join(sorted(ATTACHMENT_TYPES))},
        )
    limit_mb = int(config.get("customers.attachment_max_mb"))
    size = int(upload.size or 0)
    if size > limit_mb * 1024 * 1024:
        raise _field_error("file", _("The file is larger than %(limit)d MB.") % {"limit": limit_mb})
    if size == 0:
        raise _field_error("file", _("The file is empty."))
    problem = uploads.content_problem(upload, extension)
    if problem:
        raise _field_error("file", problem)
    if len(name) > 255 or len(description) > 200:
        raise _field_error("file", _("The file name or description is too long."))
    attachment = CustomerAttachment(
        customer=locked,
        original_name=name,
        size=size,
        content_type=uploads.content_type_of(extension),
        description=description.strip(),
        uploaded_by=actor,
    )
    attachment.file.save(name, upload, save=False)
    attachment.save()
    return attachment


@audit.audited("customers.customerattachment_deleted", target="attachment")
@transaction.atomic
def attachment_delete(*, actor: User, attachment: CustomerAttachment) -> None:
    _require_editable(actor, attachment.customer)
    storage, path = attachment.file.storage, attachment.file.name
    attachment.delete()
    if path:
        transaction.on_commit(lambda: storage.delete(path))
