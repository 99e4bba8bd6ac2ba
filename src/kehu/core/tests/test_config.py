"""Settings: validation against the spec, the change history, freshness across processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from kehu.core import config
from kehu.core.errors import InvalidInput
from kehu.core.models import SettingChange, SystemSetting
from kehu.core.testing.factories import Organisation

NUMBER = config.define(
    "tests.number", 5, "A number", unit=config.DAYS, minimum=1, maximum=30, help="Test"
)
RATIO = config.define("tests.ratio", 2.5, "A ratio", minimum=0, maximum=5)
FLAG = config.define("tests.flag", True, "A flag")
TEXT = config.define("tests.time", "09:00", "A time", check=config.time_of_day)
CHOICE = config.define("tests.choice", "B", "A choice", choices=("S", "A", "B"))
ROLES = config.define("tests.roles", ["sales"], "Roles", choices=config.ROLES)
HOURS = config.define("tests.hours", {"S": 24, "A": 72}, "Per priority", minimum=1)
RULES = config.define(
    "tests.rules",
    [{"grade": "A", "min_amount": 500000, "min_orders": 10}],
    "Rules",
    minimum=0,
)


TEST_SPECS = (NUMBER, RATIO, FLAG, TEXT, CHOICE, ROLES, HOURS, RULES)
for _spec in TEST_SPECS:  # registered only while a test of this module runs
    del config.DEFAULTS[_spec.key]


@pytest.fixture(autouse=True)
def _english_and_test_specs() -> Iterator[None]:
    config.DEFAULTS.update({spec.key: spec for spec in TEST_SPECS})
    with translation.override("en"):
        yield
    for spec in TEST_SPECS:
        del config.DEFAULTS[spec.key]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(config, "_clock", lambda: now[0])
    return now


def errors_of(spec: config.SettingSpec, value: Any) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        config.validate(spec, value)
    assert list(caught.value.errors) == [spec.key], "the error names the setting's key"
    return caught.value.errors[spec.key]


def test_numbers_take_the_default_type_and_the_bounds() -> None:
    assert config.validate(NUMBER, 7) == 7
    assert config.validate(NUMBER, 7.0) == 7
    assert isinstance(config.validate(NUMBER, 7.0), int)
    assert errors_of(NUMBER, 0) == ["Must be at least 1."]
    assert errors_of(NUMBER, 31) == ["Must be at most 30."]
    assert errors_of(NUMBER, 2.5) == ["Enter a whole number."]
    assert errors_of(NUMBER, "7") == ["Enter a whole number."]
    assert errors_of(NUMBER, True) == ["Enter a whole number."]
    assert config.validate(RATIO, 3) == 3.0
    assert errors_of(RATIO, float("nan")) == ["Enter a number."]
    assert errors_of(RATIO, 5.5) == ["Must be at most 5."]


def test_text_flags_choices_and_checks() -> None:
    assert config.validate(FLAG, False) is False
    assert errors_of(FLAG, 0) == ["Enter true or false."]
    assert config.validate(TEXT, " 07:30 ") == "07:30"
    assert errors_of(TEXT, "25:00") == ["Enter a time as HH:MM (00:00 to 23:59)."]
    assert errors_of(TEXT, 930) == ["Enter text."]
    assert errors_of(CHOICE, "C") == ["Choose one of: S, A, B."]
    assert config.validate(ROLES, ["sales", "manager", "sales"]) == ["sales", "manager"]
    assert errors_of(ROLES, ["sales", "boss"]) == [
        "item 2: Choose one of: admin, manager, sales, service, marketing."
    ]
    assert errors_of(ROLES, "sales") == ["Enter a list."]


def test_dicts_and_lists_of_dicts_keep_the_defaults_shape() -> None:
    assert config.validate(HOURS, {"S": 12, "A": 48}) == {"S": 12, "A": 48}
    assert errors_of(HOURS, {"S": 12}) == ["Missing: A."]
    assert errors_of(HOURS, {"S": 12, "A": 0, "X": 1}) == ["Unknown: X.", "A: Must be at least 1."]
    rules = [
        {"grade": "A", "min_amount": 800000, "min_orders": 12},
        {"grade": "B", "min_amount": 100000, "min_orders": 3},
    ]
    assert config.validate(RULES, rules) == rules
    assert errors_of(RULES, [{"grade": "A", "min_amount": -1, "min_orders": "x"}]) == [
        "row 1, min_amount: Must be at least 0.",
        "row 1, min_orders: Enter a whole number.",
    ]
    assert errors_of(RULES, [{"grade": "A"}]) == ["row 1: Missing: min_amount, min_orders."]
    assert errors_of(RULES, [5]) == ["row 1: Give the fields grade, min_amount, min_orders."]


def test_every_defined_setting_accepts_its_own_default() -> None:
    for spec in config.DEFAULTS.values():
        assert config.validate(spec, spec.default) == spec.default, spec.key


def test_every_setting_of_the_apps_has_its_chapter_meaning_and_range() -> None:
    """What the settings area shows: a chapter of the handbook, a help text, and for numbers
    a unit and a range (bounds on both sides)."""
    missing = []
    for key, spec in config.DEFAULTS.items():
        if key.startswith("tests."):
            continue
        problems = [
            name
            for name, ok in (
                ("group", spec.group in config.GROUPS),
                ("help", bool(str(spec.help))),
                ("unit", spec.kind not in {"int", "float"} or bool(str(spec.unit))),
                ("minimum", not _has_numbers(spec.default) or spec.minimum is not None),
                ("maximum", not _has_numbers(spec.default) or spec.maximum is not None),
            )
            if not ok
        ]
        if problems:
            missing.append(f"{key}: {', '.join(problems)}")
    assert not missing, missing


def _has_numbers(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, dict):
        return any(_has_numbers(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_numbers(item) for item in value)
    return False


@pytest.mark.django_db
def test_put_records_who_when_old_new_and_why(org: Organisation) -> None:
    assert config.put(NUMBER.key, 9, actor=org.admin, reason="季度调整") == 9
    assert config.get(NUMBER.key) == 9
    config.put(NUMBER.key, 9, actor=org.admin, reason="again")  # unchanged: nothing recorded
    config.reset(NUMBER.key, actor=org.admin, reason="回到默认")
    assert config.get(NUMBER.key) == 5
    assert not SystemSetting.objects.filter(key=NUMBER.key).exists()
    changes = list(SettingChange.objects.filter(key=NUMBER.key).order_by("id"))
    assert [(c.old_value, c.new_value, c.reset, c.reason) for c in changes] == [
        (5, 9, False, "季度调整"),
        (9, 5, True, "回到默认"),
    ]
    assert {c.changed_by for c in changes} == {org.admin}


@pytest.mark.django_db
def test_a_bad_value_changes_nothing() -> None:
    with pytest.raises(InvalidInput):
        config.put(NUMBER.key, 99)
    assert config.get(NUMBER.key) == 5
    assert not SettingChange.objects.exists()


@pytest.mark.django_db
def test_another_process_sees_a_change_within_the_reload_time(clock: list[float]) -> None:
    """A second process is this one with its copy kept: the change reaches it through the
    reload (without a shared cache) at the latest RELOAD_SECONDS later."""
    assert config.get(NUMBER.key) == 5
    SystemSetting.objects.create(key=NUMBER.key, value=8)  # written by "another process"
    config._state.values = {}  # ... which this process does not know of yet
    config._state.loaded_at = config._state.checked_at = clock[0]
    cache.clear()  # and whose version it did not share
    config._state.version = None
    assert config.get(NUMBER.key) == 5
    clock[0] += config.RELOAD_SECONDS - 1
    assert config.get(NUMBER.key) == 5
    clock[0] += 1
    assert config.get(NUMBER.key) == 8
    assert config.RELOAD_SECONDS <= 60


@pytest.mark.django_db
def test_a_shared_version_carries_a_change_within_a_second(
    clock: list[float], django_assert_num_queries: Any
) -> None:
    assert config.get(NUMBER.key) == 5
    stale = dict(config._state.__dict__)
    config.put(NUMBER.key, 12)  # this process changes it; the other process kept ``stale``
    config._state.__dict__.update(stale)
    with django_assert_num_queries(0):
        assert config.get(NUMBER.key) == 5  # checked less than a second ago
    clock[0] += config.VERSION_CHECK_SECONDS
    with django_assert_num_queries(1):
        assert config.get(NUMBER.key) == 12  # the version moved: one query reloads them all
    clock[0] += config.VERSION_CHECK_SECONDS
    with django_assert_num_queries(0):
        assert config.get(RATIO.key) == 2.5  # same version: no query


@pytest.mark.django_db
def test_reads_are_one_query_per_reload_whatever_the_number_of_settings(
    django_assert_num_queries: Any,
) -> None:
    with django_assert_num_queries(1):
        for spec in list(config.DEFAULTS.values()):
            config.get(spec.key)


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis path runs when KEHU_REDIS_URL is set")
@pytest.mark.django_db
def test_with_redis_the_version_is_shared_and_read_at_once(clock: list[float]) -> None:
    import redis

    assert "RedisCache" in settings.CACHES["default"]["BACKEND"]
    assert config.get(NUMBER.key) == 5
    other = dict(config._state.__dict__)  # a second process, its copy loaded
    config.put(NUMBER.key, 21)
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert any(b"kehu:settings:version" in key for key in client.keys("*settings*"))
    config._state.__dict__.update(other)
    clock[0] += config.VERSION_CHECK_SECONDS
    assert config.get(NUMBER.key) == 21
