"""Aliyun SMS (阿里云短信服务, dysmsapi 2017-05-25) with the RPC signature, version 1.0.

Each batch goes out as ``SendBatchSms`` calls of up to 100 numbers sharing a template (each
number with its own parameters). Aliyun answers one code for the whole call, so when a call is
refused for something a number can cause (``isv.MOBILE_NUMBER_ILLEGAL``, a number over its
daily limit, …) its numbers are sent again one by one with ``SendSms``, and the number Aliyun
refuses gets that error while the others go out. Codes of the account or the request
(signature, key, balance, sign name, template, throttling) fail the batch (docs/channels.md).

Signature (Aliyun's "RPC signature mechanism"): every parameter but ``Signature``, sorted by
name, names and values percent-encoded as RFC 3986 (space %20, ``*`` %2A, ``~`` kept), joined
``k=v`` with ``&``; the string to sign is ``POST&%2F&`` + that string percent-encoded again;
the signature is Base64(HMAC-SHA1(AccessKeySecret + "&", string to sign)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import config

from . import common
from .base import ChannelUnavailable, Outcome, Outgoing

NAME = "aliyun_sms"
VERSION = "2017-05-25"
BATCH_SIZE = 100  # SendBatchSms takes up to 100 numbers
KEY_ID_VARIABLE = "KEHU_ALIYUN_ACCESS_KEY_ID"
SECRET_VARIABLE = "KEHU_ALIYUN_ACCESS_KEY_SECRET"

ENDPOINT = config.define(
    "campaigns.aliyun_sms_endpoint",
    "https://dysmsapi.aliyuncs.com/",
    gettext_lazy("Aliyun SMS endpoint"),
    group="campaigns",
    check=config.http_url,
    help=gettext_lazy("The address of Aliyun's SMS API (dysmsapi); change it only for a proxy."),
)
REGION = config.define(
    "campaigns.aliyun_sms_region",
    "cn-hangzhou",
    gettext_lazy("Aliyun SMS region"),
    group="campaigns",
    help=gettext_lazy("The RegionId sent with every call, e.g. cn-hangzhou."),
)
SIGN_NAME = config.define(
    "campaigns.aliyun_sms_sign_name",
    "",
    gettext_lazy("Aliyun SMS sign name (短信签名)"),
    group="campaigns",
    help=gettext_lazy("The approved sign name shown at the start of every text, e.g. 客户通."),
)

# Codes a number (or its parameters) can cause: the call's numbers are retried one by one.
NUMBER_CODES = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "isv.MONTH_LIMIT_CONTROL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.INVALID_JSON_PARAM",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.EXTEND_CODE_ERROR",
    }
)


def percent_encode(value: str) -> str:
    return quote(value, safe="~")


def signature(method: str, params: dict[str, str], access_key_secret: str) -> str:
    canonical = "&".join(
        f"{percent_encode(name)}={percent_encode(params[name])}"
        for name in sorted(params)
        if name != "Signature"
    )
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{access_key_secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def national(e164: str) -> str:
    """Aliyun's form of a number: 13812345678 in the mainland, else country code + number."""
    return e164[3:] if common.is_mainland(e164) else e164.lstrip("+")


class AliyunSms:
    name = NAME

    def __init__(self) -> None:
        self.endpoint = str(config.get(ENDPOINT.key))
        self.region = str(config.get(REGION.key))
        self.failure = ""  # why the last call gave no answer

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        self.key_id = common.secret(KEY_ID_VARIABLE)
        self.key_secret = common.secret(SECRET_VARIABLE)
        self.sign_name = common.setting(SIGN_NAME)
        if messages and not any(message.provider_template for message in messages):
            raise ChannelUnavailable(_("The template has no Aliyun template code."))
        batch = common.BatchOutcomes(len(messages))
        numbers: dict[int, str] = {}
        by_template: dict[str, list[int]] = {}
        for index, message in enumerate(messages):
            e164 = common.mobile_e164(message.address)
            if e164 is None:
                batch.set(index, Outcome(error=_("Not a mobile number.")))
            elif not message.provider_template:
                batch.set(index, Outcome(error=_("The template has no Aliyun template code.")))
            else:
                numbers[index] = national(e164)
                by_template.setdefault(message.provider_template, []).append(index)
        with common.client() as http:
            for template, indexes in by_template.items():
                for start in range(0, len(indexes), BATCH_SIZE):
                    if batch.stopped:
                        break
                    chunk = indexes[start : start + BATCH_SIZE]
                    self._send_chunk(http, batch, messages, numbers, template, chunk)
        return batch.result()

    def _send_chunk(
        self,
        http: httpx.Client,
        batch: common.BatchOutcomes,
        messages: Sequence[Outgoing],
        numbers: dict[int, str],
        template: str,
        chunk: list[int],
    ) -> None:
        params = {
            "Action": "SendBatchSms",
            "PhoneNumberJson": _json([numbers[index] for index in chunk]),
            "SignNameJson": _json([self.sign_name] * len(chunk)),
            "TemplateCode": template,
            "TemplateParamJson": _json([messages[index].parameters for index in chunk]),
        }
        answer = self._call(http, params)
        if answer is None:
            return batch.unavailable(chunk, self.failure)
        code = str(answer.get("Code", ""))
        if code == "OK":
            for index in chunk:
                batch.answer(index, Outcome(provider_id=str(answer.get("BizId", ""))))
            return None
        if code not in NUMBER_CODES:
            return batch.unavailable(chunk, _refusal(answer))
        # Which number? Send them one by one: Aliyun refuses only the one at fault.
        for index in chunk:
            if batch.stopped:
                return None
            single = self._call(
                http,
                {
                    "Action": "SendSms",
                    "PhoneNumbers": numbers[index],
                    "SignName": self.sign_name,
                    "TemplateCode": template,
                    "TemplateParam": _json(messages[index].parameters),
                },
            )
            if single is None:
                batch.unavailable(batch.pending(chunk), self.failure)
                continue
            single_code = str(single.get("Code", ""))
            if single_code == "OK":
                batch.answer(index, Outcome(provider_id=str(single.get("BizId", ""))))
            elif single_code in NUMBER_CODES:
                batch.answer(index, Outcome(error=_refusal(single)))
            else:
                batch.unavailable(batch.pending(chunk), _refusal(single))
        return None

    def _call(self, http: httpx.Client, action_params: dict[str, str]) -> dict[str, Any] | None:
        """The provider's JSON answer, or None (``self.failure`` says why) when it gave none
        or refused the request itself (HTTP 4xx/5xx: signature, key, throttling)."""
        params = {
            "AccessKeyId": self.key_id,
            "Format": "JSON",
            "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": VERSION,
            **action_params,
        }
        params["Signature"] = signature("POST", params, self.key_secret)
        try:
            response = http.post(self.endpoint, data=params)
            answer = response.json()
        except httpx.HTTPError as error:
            self.failure = common.http_failure(error)
            return None
        except ValueError:
            self.failure = _("Aliyun answered HTTP %(status)s without JSON.") % {
                "status": response.status_code
            }
            return None
        if not isinstance(answer, dict):
            self.failure = _("Aliyun answered something unexpected.")
            return None
        if response.status_code >= 400:
            self.failure = _refusal(answer)
            return None
        return answer


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _refusal(answer: dict[str, Any]) -> str:
    return _("Aliyun refused: %(code)s %(message)s") % {
        "code": answer.get("Code", ""),
        "message": answer.get("Message", ""),
    }
