"""The SMS and WeCom back-ends against local servers that check requests as the providers do
(``providers``): signatures, per-number outcomes, whole-batch failures, the WeCom token."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.utils import translation

from kehu.campaigns.channels import aliyun_sms, base, common, providers, tencent_sms, wecom
from kehu.campaigns.channels.base import ChannelUnavailable, Outgoing
from kehu.campaigns.tests.providers import (
    AliyunSmsLog,
    TencentSmsLog,
    WeComLog,
    aliyun_encode,
    aliyun_expected_signature,
    aliyun_sms_server,
    tc3_expected_signature,
    tencent_sms_server,
    wecom_server,
)
from kehu.core import config
from kehu.core.errors import InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The outcomes' errors are asserted in English (the job's language in these tests)."""
    with translation.override("en"):
        yield


def put(key: str, value: object) -> None:
    config.put(key, value, reason="test")


def sms(address: str, name: str = "王先生", template: str = "SMS_1001") -> Outgoing:
    return Outgoing(
        address=address,
        subject="",
        text=f"{name}，您好：春季新品发布会 3 月 18 日举行",
        provider_template=template,
        parameters={"salutation": name, "campaign": "春季新品发布会"},
    )


# --- the verifiers are right: the providers' own worked examples -----------------------------


def test_the_aliyun_verifier_reproduces_the_published_example() -> None:
    """Aliyun's RPC signature document: DescribeRegions signed with testid / testsecret."""
    params = {
        "Timestamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    assert aliyun_expected_signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert aliyun_sms.signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert aliyun_encode("a b*c~d/") == aliyun_sms.percent_encode("a b*c~d/") == "a%20b%2Ac~d%2F"
    assert aliyun_sms.percent_encode("王") == "%E7%8E%8B"


def test_the_tc3_verifier_reproduces_the_published_example() -> None:
    """Tencent Cloud's Signature v3 document: DescribeInstances at 1551113065."""
    body = (
        b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    )
    headers = {"content-type": "application/json; charset=utf-8", "host": "cvm.tencentcloudapi.com"}
    expected = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    assert (
        tc3_expected_signature(
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            service="cvm",
            timestamp="1551113065",
            signed_headers=["content-type", "host"],
            header_values=headers,
            body=body,
        )
        == expected
    )
    assert tencent_sms.sign(
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        timestamp=1551113065,
        headers={"Content-Type": headers["content-type"], "Host": headers["host"]},
        body=body,
        service="cvm",
    ) == ("content-type;host", expected)


# --- Aliyun ---------------------------------------------------------------------------------------


@pytest.fixture
def aliyun(monkeypatch: pytest.MonkeyPatch) -> Iterator[AliyunSmsLog]:
    log = AliyunSmsLog(
        keys={"LTAI5tKehuTest": "aliyun-secret-1"}, sign_names={"客户通"}, templates={"SMS_1001"}
    )
    monkeypatch.setenv("KEHU_ALIYUN_ACCESS_KEY_ID", "LTAI5tKehuTest")
    monkeypatch.setenv("KEHU_ALIYUN_ACCESS_KEY_SECRET", "aliyun-secret-1")
    with aliyun_sms_server(log) as url:
        put(aliyun_sms.ENDPOINT.key, url)
        put(aliyun_sms.SIGN_NAME.key, "客户通")
        yield log


def test_aliyun_sends_a_batch_with_each_numbers_own_parameters(aliyun: AliyunSmsLog) -> None:
    outcomes = base.backend("aliyun_sms").send_batch(
        [
            sms("13812345678", "王先生"),
            sms("+86 139 0000 1111", "李女士"),
            sms("13700001111", "欧阳经理"),
        ]
    )
    assert [outcome.ok for outcome in outcomes] == [True, True, True]
    assert outcomes[0].provider_id == "1^0"
    assert aliyun.codes == ["OK"]
    assert aliyun.calls[0]["Action"] == "SendBatchSms"
    assert aliyun.calls[0]["RegionId"] == "cn-hangzhou"
    assert [(d.number, d.sign_name, d.template) for d in aliyun.delivered] == [
        ("13812345678", "客户通", "SMS_1001"),
        ("13900001111", "客户通", "SMS_1001"),
        ("13700001111", "客户通", "SMS_1001"),
    ]
    assert [d.parameters["salutation"] for d in aliyun.delivered] == [
        "王先生",
        "李女士",
        "欧阳经理",
    ]


def test_aliyun_a_refused_number_is_that_messages_error(aliyun: AliyunSmsLog) -> None:
    aliyun.illegal = {"13900001111"}
    outcomes = base.backend("aliyun_sms").send_batch(
        [sms("13812345678"), sms("13900001111"), sms("13700001111"), sms("not a number")]
    )
    assert [outcome.ok for outcome in outcomes] == [True, False, True, False]
    assert "isv.MOBILE_NUMBER_ILLEGAL" in outcomes[1].error
    assert outcomes[3].error == "Not a mobile number."
    # The batch call was refused as a whole; the numbers then went one by one.
    assert [call["Action"] for call in aliyun.calls] == [
        "SendBatchSms",
        "SendSms",
        "SendSms",
        "SendSms",
    ]
    assert aliyun.codes == ["isv.MOBILE_NUMBER_ILLEGAL", "OK", "isv.MOBILE_NUMBER_ILLEGAL", "OK"]
    assert sorted(d.number for d in aliyun.delivered) == ["13700001111", "13812345678"]


def test_aliyun_a_wrong_secret_fails_the_batch_and_sends_nothing(
    aliyun: AliyunSmsLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEHU_ALIYUN_ACCESS_KEY_SECRET", "not-the-secret")
    with pytest.raises(ChannelUnavailable, match="SignatureDoesNotMatch"):
        base.backend("aliyun_sms").send_batch([sms("13812345678"), sms("13900001111")])
    assert aliyun.codes == ["SignatureDoesNotMatch"]
    assert aliyun.delivered == []


def test_aliyun_an_unknown_key_or_missing_secret_fails_the_batch(
    aliyun: AliyunSmsLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEHU_ALIYUN_ACCESS_KEY_ID", "LTAI5tSomeoneElse")
    with pytest.raises(ChannelUnavailable, match=r"InvalidAccessKeyId\.NotFound"):
        base.backend("aliyun_sms").send_batch([sms("13812345678")])
    monkeypatch.delenv("KEHU_ALIYUN_ACCESS_KEY_SECRET")
    with pytest.raises(ChannelUnavailable, match="KEHU_ALIYUN_ACCESS_KEY_SECRET"):
        base.backend("aliyun_sms").send_batch([sms("13812345678")])
    assert aliyun.delivered == []


def test_aliyun_an_unapproved_template_fails_the_batch(aliyun: AliyunSmsLog) -> None:
    with pytest.raises(ChannelUnavailable, match=r"isv\.SMS_TEMPLATE_ILLEGAL"):
        base.backend("aliyun_sms").send_batch([sms("13812345678", template="SMS_9999")])
    with pytest.raises(ChannelUnavailable, match="template code"):
        base.backend("aliyun_sms").send_batch([sms("13812345678", template="")])


def test_aliyun_cuts_batches_of_100_and_keeps_answers_when_the_provider_goes_down(
    aliyun: AliyunSmsLog,
) -> None:
    numbers = [f"138{index:08d}" for index in range(250)]
    outcomes = base.backend("aliyun_sms").send_batch([sms(number) for number in numbers])
    assert all(outcome.ok for outcome in outcomes)
    assert [len(json.loads(call["PhoneNumberJson"])) for call in aliyun.calls] == [100, 100, 50]
    # Down after the first call: its 100 keep their success, the rest fail with the reason.
    aliyun.down_after = len(aliyun.codes) + 1
    outcomes = base.backend("aliyun_sms").send_batch([sms(number) for number in numbers])
    assert [outcome.ok for outcome in outcomes].count(True) == 100
    assert "ServiceUnavailable" in outcomes[100].error
    assert "ServiceUnavailable" in outcomes[249].error
    # Down from the start: nothing was answered, so the batch is unavailable.
    aliyun.down_after = 0
    with pytest.raises(ChannelUnavailable, match="ServiceUnavailable"):
        base.backend("aliyun_sms").send_batch([sms(numbers[0])])


def test_aliyun_unreachable_is_unavailable(db: None) -> None:
    put(aliyun_sms.ENDPOINT.key, "http://127.0.0.1:9/")
    put(aliyun_sms.SIGN_NAME.key, "客户通")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KEHU_ALIYUN_ACCESS_KEY_ID", "id")
        patch.setenv("KEHU_ALIYUN_ACCESS_KEY_SECRET", "secret")
        with pytest.raises(ChannelUnavailable, match="could not be reached"):
            base.backend("aliyun_sms").send_batch([sms("13812345678")])


# --- Tencent Cloud ----------------------------------------------------------------------------


@pytest.fixture
def tencent(monkeypatch: pytest.MonkeyPatch) -> Iterator[TencentSmsLog]:
    log = TencentSmsLog(
        keys={"AKIDkehuTest": "tencent-secret-1"}, app_id="1400006666", templates={"SMS_1001"}
    )
    monkeypatch.setenv("KEHU_TENCENT_SECRET_ID", "AKIDkehuTest")
    monkeypatch.setenv("KEHU_TENCENT_SECRET_KEY", "tencent-secret-1")
    with tencent_sms_server(log) as url:
        put(tencent_sms.ENDPOINT.key, url)
        put(tencent_sms.SDK_APP_ID.key, "1400006666")
        put(tencent_sms.SIGN_NAME.key, "客户通")
        yield log


def test_tencent_sends_200_numbers_per_call_with_per_number_statuses(
    tencent: TencentSmsLog,
) -> None:
    same = [sms(f"138{index:08d}", "您") for index in range(250)]
    outcomes = base.backend("tencent_sms").send_batch(same)
    assert all(outcome.ok for outcome in outcomes)
    assert len({outcome.provider_id for outcome in outcomes}) == 250  # one SerialNo each
    sizes = [len(call["payload"]["PhoneNumberSet"]) for call in tencent.calls]
    assert sizes == [200, 50]
    first = tencent.calls[0]
    assert first["payload"]["PhoneNumberSet"][0] == "+8613800000000"
    assert first["payload"]["TemplateParamSet"] == ["您", "春季新品发布会"]
    assert first["payload"]["SignName"] == "客户通"
    assert first["headers"]["X-TC-Region"] == "ap-guangzhou"
    assert tencent.errors == []


def test_tencent_groups_messages_by_their_parameters(tencent: TencentSmsLog) -> None:
    outcomes = base.backend("tencent_sms").send_batch(
        [sms("13812345678", "王先生"), sms("13900001111", "李女士"), sms("13700001111", "王先生")]
    )
    assert all(outcome.ok for outcome in outcomes)
    assert [call["payload"]["PhoneNumberSet"] for call in tencent.calls] == [
        ["+8613812345678", "+8613700001111"],
        ["+8613900001111"],
    ]
    assert {(d.number, d.parameters[0]) for d in tencent.delivered} == {
        ("+8613812345678", "王先生"),
        ("+8613700001111", "王先生"),
        ("+8613900001111", "李女士"),
    }


def test_tencent_a_refused_number_is_that_messages_error(tencent: TencentSmsLog) -> None:
    tencent.blacklist = {"+8613900001111"}
    outcomes = base.backend("tencent_sms").send_batch(
        [sms("13812345678", "您"), sms("13900001111", "您"), sms("12345", "您")]
    )
    assert [outcome.ok for outcome in outcomes] == [True, False, False]
    assert "FailedOperation.PhoneNumberInBlacklist" in outcomes[1].error
    assert outcomes[2].error == "Not a mobile number."
    assert [d.number for d in tencent.delivered] == ["+8613812345678"]


def test_tencent_a_call_refused_for_its_parameters_fails_only_its_messages(
    tencent: TencentSmsLog,
) -> None:
    tencent.max_parameter_length = 12
    outcomes = base.backend("tencent_sms").send_batch(
        [sms("13812345678", "王先生"), sms("13900001111", "上海瑞德精密机械有限公司采购部总监")]
    )
    assert outcomes[0].ok
    assert "TemplateParameterLengthLimit" in outcomes[1].error
    assert [d.number for d in tencent.delivered] == ["+8613812345678"]


def test_tencent_auth_failures_fail_the_batch(
    tencent: TencentSmsLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEHU_TENCENT_SECRET_KEY", "wrong")
    with pytest.raises(ChannelUnavailable, match=r"AuthFailure\.SignatureFailure"):
        base.backend("tencent_sms").send_batch([sms("13812345678")])
    monkeypatch.setenv("KEHU_TENCENT_SECRET_ID", "AKIDnobody")
    with pytest.raises(ChannelUnavailable, match=r"AuthFailure\.SecretIdNotFound"):
        base.backend("tencent_sms").send_batch([sms("13812345678")])
    assert tencent.errors == ["AuthFailure.SignatureFailure", "AuthFailure.SecretIdNotFound"]
    assert tencent.delivered == []


def test_tencent_an_unapproved_template_or_missing_app_fails_the_batch(
    tencent: TencentSmsLog,
) -> None:
    with pytest.raises(ChannelUnavailable, match="TemplateIncorrectOrUnapproved"):
        base.backend("tencent_sms").send_batch([sms("13812345678", template="9999")])
    put(tencent_sms.SDK_APP_ID.key, "")
    with pytest.raises(ChannelUnavailable, match="SdkAppId"):
        base.backend("tencent_sms").send_batch([sms("13812345678")])


# --- WeCom ------------------------------------------------------------------------------------


def wecom_message(
    external_id: str, text: str = "王先生您好，春季新品发布会 3 月 18 日举行"
) -> Outgoing:
    return Outgoing(address=external_id, subject="春季新品发布会", text=text)


@pytest.fixture
def wecom_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[WeComLog]:
    log = WeComLog(
        corp_id="ww1234567890abcdef",
        secret="corp-secret-1",
        customers={"wmA0001", "wmA0002", "wmA0003"},
    )
    monkeypatch.setenv("KEHU_WECOM_CORP_SECRET", "corp-secret-1")
    with wecom_server(log) as url:
        put(wecom.ENDPOINT.key, url)
        put(wecom.CORP_ID.key, "ww1234567890abcdef")
        yield log


def test_wecom_creates_one_task_per_text_and_caches_the_token(wecom_log: WeComLog) -> None:
    backend = base.backend("wecom")
    outcomes = backend.send_batch(
        [wecom_message("wmA0001"), wecom_message("wmA0002"), wecom_message("wmA0003", "李女士您好")]
    )
    assert [outcome.provider_id for outcome in outcomes] == ["msg000001", "msg000001", "msg000002"]
    assert [task["external_userid"] for task in wecom_log.tasks] == [
        ["wmA0001", "wmA0002"],
        ["wmA0003"],
    ]
    assert wecom_log.tasks[1]["text"] == {"content": "李女士您好"}
    assert wecom_log.tasks[0]["chat_type"] == "single"
    assert "sender" not in wecom_log.tasks[0]
    put(wecom.SENDER.key, "zhangsan")
    assert base.backend("wecom").send_batch([wecom_message("wmA0001")])[0].ok
    assert wecom_log.tasks[2]["sender"] == "zhangsan"
    assert wecom_log.token_calls == 1  # the token is reused by every batch until it expires


def test_wecom_an_expired_token_is_fetched_again_once(wecom_log: WeComLog) -> None:
    assert base.backend("wecom").send_batch([wecom_message("wmA0001")])[0].ok
    wecom_log.revoke_tokens()
    outcomes = base.backend("wecom").send_batch([wecom_message("wmA0002")])
    assert outcomes[0].ok
    assert wecom_log.token_calls == 2
    assert wecom_log.errcodes.count(42001) == 1


def test_wecom_customers_it_will_not_reach_are_those_messages_errors(wecom_log: WeComLog) -> None:
    outcomes = base.backend("wecom").send_batch(
        [wecom_message("wmA0001"), wecom_message("wmStranger"), wecom_message("  ")]
    )
    assert [outcome.ok for outcome in outcomes] == [True, False, False]
    assert "cannot send to this customer" in outcomes[1].error
    assert outcomes[2].error == "No WeCom external contact id."
    assert wecom_log.tasks[0]["external_userid"] == ["wmA0001", "wmStranger"]


def test_wecom_a_wrong_secret_or_corp_fails_the_batch(
    wecom_log: WeComLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEHU_WECOM_CORP_SECRET", "wrong")
    with pytest.raises(ChannelUnavailable, match="40001"):
        base.backend("wecom").send_batch([wecom_message("wmA0001")])
    monkeypatch.setenv("KEHU_WECOM_CORP_SECRET", "corp-secret-1")
    put(wecom.CORP_ID.key, "wwSomeoneElse")
    with pytest.raises(ChannelUnavailable, match="40013"):
        base.backend("wecom").send_batch([wecom_message("wmA0001")])
    assert wecom_log.tasks == []


# --- choosing the back-end ----------------------------------------------------------------------


def test_the_settings_choose_the_back_ends(db: None) -> None:
    assert set(base.names()) >= {"aliyun_sms", "tencent_sms", "wecom"}
    assert providers.sms_backend().name == "aliyun_sms"
    put(common.SMS_BACKEND.key, "tencent_sms")
    assert providers.backend_for("sms").name == "tencent_sms"
    assert providers.backend_for("wecom").name == "wecom"
    with pytest.raises(ChannelUnavailable):
        providers.backend_for("email")
    with pytest.raises(InvalidInput) as refused:
        put(common.SMS_BACKEND.key, "twilio")
    assert "Choose one of" in refused.value.errors[common.SMS_BACKEND.key][0]
    assert providers.sms_backend().name == "tencent_sms"


def test_a_long_provider_answer_fits_the_message_row() -> None:
    fitted = common.fit(base.Outcome(provider_id="x" * 150, error="拒绝" * 400))
    assert len(fitted.provider_id) == 100
    assert len(fitted.error) == 500
    assert fitted.error.endswith("…")
    assert common.fit(base.Outcome(provider_id="1^0")) == base.Outcome(provider_id="1^0")
