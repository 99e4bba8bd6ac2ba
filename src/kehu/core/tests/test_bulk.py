from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from kehu.core import bulk
from kehu.core.testing.factories import foreign_key_names, index_names
from kehu.customers.models import Customer, CustomerStatus, Tag

pytestmark = pytest.mark.django_db


def test_rows_written_in_bulk_read_back_like_saved_ones() -> None:
    created = timezone.now() - timedelta(days=3, microseconds=7)
    ids = bulk.reserve_ids(Customer, 2)
    assert len(set(ids)) == 2
    rows = [
        [
            pk,
            f"KH-BULK-{pk}",
            f"批量客户{pk}有限公司",
            CustomerStatus.INTENT,
            created,
            Decimal("12.50"),
        ]
        for pk in ids
    ]
    columns = ["id", "number", "name", "status", "created_at", "annual_budget"]
    writer = bulk.TableWriter(Customer, columns)
    assert writer.write(rows) == 2
    customer = Customer.objects.get(pk=ids[0])
    assert customer.status == "intent"
    assert customer.created_at == created
    assert customer.version == 1  # the field default
    assert customer.annual_budget == Decimal("12.50")
    later = Customer.objects.create(number="KH-AFTER", name="之后的客户有限公司")
    assert later.pk > max(ids)  # the table's own counter moved past the reserved ids


def test_reserved_ids_never_give_a_deleted_row_s_id_again() -> None:
    deleted = Customer.objects.create(number="KH-DELETED", name="已删除客户有限公司").pk
    Customer.objects.filter(pk=deleted).delete()
    assert bulk.reserve_ids(Customer, 1) == [deleted + 1]


def test_instances_are_written_with_their_field_values() -> None:
    tag = Tag(name="批量标签")
    tag.pk = bulk.reserve_ids(Tag, 1)[0]
    bulk.TableWriter.for_instances(Tag).write_instances([tag])
    assert Tag.objects.filter(pk=tag.pk, name="批量标签").exists()


def test_deferred_indexes_are_rebuilt_after_the_block_and_kept_on_failure() -> None:
    before = index_names(Customer)
    assert {"customer_owner_recent", "customer_dept_recent"} <= before
    with bulk.deferred_indexes(Customer):
        inside = index_names(Customer)
        Customer.objects.create(number="KH-DEFER-1", name="延后索引客户有限公司")
    assert inside < before  # the secondary indexes were gone while rows were written
    assert index_names(Customer) == before

    def failing_load() -> None:
        with bulk.deferred_indexes(Customer):
            Customer.objects.create(number="KH-DEFER-2", name="失败的导入有限公司")
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        failing_load()
    assert index_names(Customer) == before
    assert not Customer.objects.filter(number="KH-DEFER-2").exists()
    with bulk.deferred_indexes(Customer, defer=False):
        assert index_names(Customer) == before


def test_deferred_foreign_keys_are_checked_once_when_the_block_ends() -> None:
    before = foreign_key_names(Customer)
    assert before
    with bulk.deferred_indexes(Customer):
        if connection.vendor == "postgresql":  # SQLite keeps its keys (checked at commit)
            assert not foreign_key_names(Customer)
        Customer.objects.create(number="KH-FK-1", name="外键客户有限公司")
    assert foreign_key_names(Customer) == before
    if connection.vendor != "postgresql":
        return
    with pytest.raises(IntegrityError), bulk.deferred_indexes(Customer):
        Customer.objects.create(number="KH-FK-2", name="无主客户有限公司", owner_id=987654)
    assert foreign_key_names(Customer) == before
    assert not Customer.objects.filter(number="KH-FK-2").exists()
