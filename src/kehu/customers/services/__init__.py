"""Every write to customers and contacts: validation, numbering, dedup, history, merge.

Public functions (other apps call these; keyword-only, explicit acting user):
``customer_create``, ``customer_update``, ``customer_change_status``, ``customer_reassign``,
``customer_share``, ``customer_unshare``, ``customer_mark_verified``, ``customer_record_contact``,
``customer_set_grade``, ``customer_recompute_grades``, ``customer_merge``, ``customer_delete``,
``customer_set_tags``, ``contact_create``, ``contact_update``, ``contact_deactivate``,
``find_duplicates``; ``customers_create_bulk`` for batches of cleaned rows (the import).

The package splits them by concern (``creation``, ``customers``, ``contacts``, ``dedup``, ``merge``,
``attachments``, ``saved_filters``); callers import them from here.
"""

from kehu.customers.services._cleaning import (
    CONTACT_FIELDS,
    CONTACT_INFO_FIELDS,
    CREATE_FIELDS,
    CUSTOMER_FIELDS,
    EDITABLE_FIELDS,
    VERIFIABLE_FIELDS,
    check_contact_rules,
    check_customer_rules,
    clean_credit_code,
)
from kehu.customers.services.attachments import (
    ATTACHMENT_MAX_MB,
    ATTACHMENT_TYPES,
    attachment_add,
    attachment_delete,
)
from kehu.customers.services.contacts import contact_create, contact_deactivate, contact_update
from kehu.customers.services.creation import (
    BulkCreation,
    NewCustomer,
    OwnerRule,
    customer_create,
    customer_may_create,
    customers_create_bulk,
)
from kehu.customers.services.customers import (
    customer_add_tags,
    customer_change_status,
    customer_delete,
    customer_mark_verified,
    customer_reassign,
    customer_recompute_grades,
    customer_record_contact,
    customer_set_grade,
    customer_set_owner,
    customer_set_tags,
    customer_share,
    customer_unshare,
    customer_update,
    customers_add_tags_bulk,
    customers_reassign_bulk,
    refresh_search,
)
from kehu.customers.services.dedup import (
    DUPLICATE_NAME_SCORE,
    EXACT_NAME_SCORE,
    NAME_CANDIDATES,
    NAME_PREFIX,
    CustomerHeldByOther,
    DuplicateCustomer,
    DuplicateMatch,
    duplicate_payload,
    find_duplicates,
)
from kehu.customers.services.merge import customer_merge
from kehu.customers.services.saved_filters import saved_filter_delete, saved_filter_save

__all__ = [
    "ATTACHMENT_MAX_MB",
    "ATTACHMENT_TYPES",
    "CONTACT_FIELDS",
    "CONTACT_INFO_FIELDS",
    "CREATE_FIELDS",
    "CUSTOMER_FIELDS",
    "DUPLICATE_NAME_SCORE",
    "EDITABLE_FIELDS",
    "EXACT_NAME_SCORE",
    "NAME_CANDIDATES",
    "NAME_PREFIX",
    "VERIFIABLE_FIELDS",
    "BulkCreation",
    "CustomerHeldByOther",
    "DuplicateCustomer",
    "DuplicateMatch",
    "NewCustomer",
    "OwnerRule",
    "attachment_add",
    "attachment_delete",
    "check_contact_rules",
    "check_customer_rules",
    "clean_credit_code",
    "contact_create",
    "contact_deactivate",
    "contact_update",
    "customer_add_tags",
    "customer_change_status",
    "customer_create",
    "customer_delete",
    "customer_mark_verified",
    "customer_may_create",
    "customer_merge",
    "customer_reassign",
    "customer_recompute_grades",
    "customer_record_contact",
    "customer_set_grade",
    "customer_set_owner",
    "customer_set_tags",
    "customer_share",
    "customer_unshare",
    "customer_update",
    "customers_add_tags_bulk",
    "customers_create_bulk",
    "customers_reassign_bulk",
    "duplicate_payload",
    "find_duplicates",
    "refresh_search",
    "saved_filter_delete",
    "saved_filter_save",
]
