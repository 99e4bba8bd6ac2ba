"""The reference data every database gets after migrate: industries and regions."""

from __future__ import annotations

import pytest

from kehu.customers.models import Region
from kehu.customers.reference import region_rows, sync_reference_data

pytestmark = pytest.mark.django_db


def test_regions_are_stored_with_their_english_names() -> None:
    assert Region.objects.count() == len(region_rows())
    assert Region.objects.get(code="310000").name_en == "Shanghai"
    assert Region.objects.get(code="650000").name_en == "Xinjiang"
    assert Region.objects.get(code="310115").name_en == "Pudongxin District"


def test_a_missing_region_comes_back_with_its_english_name() -> None:
    Region.objects.filter(code="440100").delete()  # 广州市
    sync_reference_data()
    guangzhou = Region.objects.get(code="440100")
    assert (guangzhou.name, guangzhou.name_en, guangzhou.parent_id) == (
        "广州市",
        "Guangzhou",
        "440000",
    )
