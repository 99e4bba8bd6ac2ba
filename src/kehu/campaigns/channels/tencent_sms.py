"""Tencent Cloud SMS (腾讯云短信, ``SendSms`` of API version 2021-01-11), signed TC3-HMAC-SHA256.

One ``SendSms`` call takes up to 200 numbers with ONE list of template parameters, all
mainland or all international: messages are grouped by template, parameters and region of the
number, then cut into calls of 200. Tencent answers a ``SendStatusSet`` with one status per
number (``Code`` "Ok", or why that number was refused), which become the messages' outcomes.
An ``Error`` of the whole call is the account's or the request's (signature, key, balance,
sign name, template): the batch fails; one the messages cause (a parameter too long) is those
messages' error.

Signature (Tencent Cloud API 3.0 "Signature v3"): the canonical request is
``POST\\n/\\n\\n`` + the signed headers as ``name:value\\n`` (lower case, sorted) + ``\\n`` +
their names joined by ``;`` + ``\\n`` + hex SHA-256 of the body; the string to sign is
``TC3-HMAC-SHA256\\n{timestamp}\\n{date}/sms/tc3_request\\n`` + hex SHA-256 of the canonical
request; the key is HMAC-SHA256 chained over "TC3"+SecretKey → date → "sms" → "tc3_request";
the signature its hex HMAC-SHA256 of the string to sign.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import config

from . import common
from .base import ChannelUnavailable, Outcome, Outgoing

NAME = "tencent_sms"
SERVICE = "sms"
VERSION = "2021-01-11"
ACTION = "SendSms"
BATCH_SIZE = 200  # numbers per SendSms call
CONTENT_TYPE = "application/json; charset=utf-8"
SECRET_ID_VARIABLE = "KEHU_TENCENT_SECRET_ID"
SECRET_KEY_VARIABLE = "KEHU_TENCENT_SECRET_KEY"

ENDPOINT = config.define(
    "campaigns.tencent_sms_endpoint",
    "https://sms.tencentcloudapi.com/",
    gettext_lazy("Tencent Cloud SMS endpoint"),
    group="campaigns",
    check=config.http_url,
    help=gettext_lazy("The address of Tencent Cloud's SMS API; change it only for a proxy."),
)
REGION = config.define(
    "campaigns.tencent_sms_region",
    "ap-guangzhou",
    gettext_lazy("Tencent Cloud SMS region"),
    group="campaigns",
    help=gettext_lazy("The X-TC-Region of every call, e.g. ap-guangzhou or ap-beijing."),
)
SDK_APP_ID = config.define(
    "campaigns.tencent_sms_sdk_app_id",
    "",
    gettext_lazy("Tencent Cloud SMS SdkAppId"),
    group="campaigns",
    help=gettext_lazy("The SMS application's SdkAppId from the SMS console, e.g. 1400006666."),
)
SIGN_NAME = config.define(
    "campaigns.tencent_sms_sign_name",
    "",
    gettext_lazy("Tencent Cloud SMS sign name (短信签名)"),
    group="campaigns",
    help=gettext_lazy("The approved sign name of mainland texts, e.g. 客户通."),
)

# Errors of a whole call that its messages cause: those messages fail, the batch goes on.
MESSAGE_ERRORS = frozenset(
    {
        "FailedOperation.ContainSensitiveWord",
        "InvalidParameterValue.IncorrectPhoneNumber",
        "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
        "InvalidParameterValue.TemplateParameterFormatError",
        "InvalidParameterValue.TemplateParameterLengthLimit",
        "LimitExceeded.PhoneNumberDailyLimit",
        "LimitExceeded.PhoneNumberOneHourLimit",
        "LimitExceeded.PhoneNumberSameContentDailyLimit",
        "LimitExceeded.PhoneNumberThirtySecondLimit",
    }
)


def sign(
    secret_key: str,
    *,
    timestamp: int,
    headers: dict[str, str],
    body: bytes,
    service: str = SERVICE,
) -> tuple[str, str]:
    """The signed header names and the signature of a POST to ``/`` with ``headers``."""
    names = sorted(name.lower() for name in headers)
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{lowered[name].lower()}\n" for name in names)
    signed = ";".join(names)
    canonical = "\n".join(
        ["POST", "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest()]
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"TC3{secret_key}".encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return signed, hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class TencentSms:
    name = NAME

    def __init__(self) -> None:
        self.endpoint = str(config.get(ENDPOINT.key))
        self.region = str(config.get(REGION.key))
        self.failure = ""

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        self.secret_id = common.secret(SECRET_ID_VARIABLE)
        self.secret_key = common.secret(SECRET_KEY_VARIABLE)
        self.app_id = common.setting(SDK_APP_ID)
        self.sign_name = str(config.get(SIGN_NAME.key) or "").strip()
        if messages and not any(message.provider_template for message in messages):
            raise ChannelUnavailable(_("The template has no Tencent Cloud template id."))
        batch = common.BatchOutcomes(len(messages))
        numbers: dict[int, str] = {}
        groups: dict[tuple[str, tuple[str, ...], bool], list[int]] = {}
        for index, message in enumerate(messages):
            e164 = common.mobile_e164(message.address)
            if e164 is None:
                batch.set(index, Outcome(error=_("Not a mobile number.")))
            elif not message.provider_template:
                batch.set(index, Outcome(error=_("The template has no Tencent Cloud template id.")))
            else:
                numbers[index] = e164
                key = (
                    message.provider_template,
                    tuple(message.parameters.values()),
                    common.is_mainland(e164),
                )
                groups.setdefault(key, []).append(index)
        with common.client() as http:
            for (template, parameters, _mainland), indexes in groups.items():
                for start in range(0, len(indexes), BATCH_SIZE):
                    if batch.stopped:
                        break
                    chunk = indexes[start : start + BATCH_SIZE]
                    self._send_chunk(http, batch, numbers, template, list(parameters), chunk)
        return batch.result()

    def _send_chunk(
        self,
        http: httpx.Client,
        batch: common.BatchOutcomes,
        numbers: dict[int, str],
        template: str,
        parameters: list[str],
        chunk: list[int],
    ) -> None:
        payload: dict[str, Any] = {
            "PhoneNumberSet": [numbers[index] for index in chunk],
            "SmsSdkAppId": self.app_id,
            "TemplateId": template,
            "TemplateParamSet": parameters,
        }
        if self.sign_name:
            payload["SignName"] = self.sign_name
        answer = self._call(http, payload)
        if answer is None:
            return batch.unavailable(chunk, self.failure)
        error = answer.get("Error")
        if isinstance(error, dict):
            reason = _refusal(error)
            if error.get("Code") in MESSAGE_ERRORS:
                for index in chunk:
                    batch.answer(index, Outcome(error=reason))
                return None
            return batch.unavailable(chunk, reason)
        statuses = answer.get("SendStatusSet")
        if not isinstance(statuses, list):
            return batch.unavailable(chunk, _("Tencent Cloud answered without send statuses."))
        waiting: dict[str, list[int]] = {}
        for index in chunk:
            waiting.setdefault(numbers[index], []).append(index)
        for status in statuses:
            if not isinstance(status, dict):
                continue
            indexes = waiting.get(str(status.get("PhoneNumber", "")))
            if not indexes:
                continue
            index = indexes.pop(0)
            if status.get("Code") == "Ok":
                batch.answer(index, Outcome(provider_id=str(status.get("SerialNo", ""))))
            else:
                batch.answer(index, Outcome(error=_refusal(status)))
        for index in batch.pending(chunk):
            batch.answer(index, Outcome(error=_("Tencent Cloud gave no status for this number.")))
        return None

    def _call(self, http: httpx.Client, payload: dict[str, Any]) -> dict[str, Any] | None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        timestamp = int(time.time())
        host = httpx.URL(self.endpoint).netloc.decode()
        signed_headers = {"Content-Type": CONTENT_TYPE, "Host": host, "X-TC-Action": ACTION}
        names, signature = sign(
            self.secret_key, timestamp=timestamp, headers=signed_headers, body=body
        )
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        headers = {
            **signed_headers,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": VERSION,
            "X-TC-Region": self.region,
            "Authorization": (
                f"TC3-HMAC-SHA256 Credential={self.secret_id}/{date}/{SERVICE}/tc3_request, "
                f"SignedHeaders={names}, Signature={signature}"
            ),
        }
        try:
            response = http.post(self.endpoint, content=body, headers=headers)
            answer = response.json()
        except httpx.HTTPError as error:
            self.failure = common.http_failure(error)
            return None
        except ValueError:
            self.failure = _("Tencent Cloud answered HTTP %(status)s without JSON.") % {
                "status": response.status_code
            }
            return None
        inner = answer.get("Response") if isinstance(answer, dict) else None
        if response.status_code != 200 or not isinstance(inner, dict):
            self.failure = _("Tencent Cloud answered HTTP %(status)s.") % {
                "status": response.status_code
            }
            return None
        return inner


def _refusal(answer: dict[str, Any]) -> str:
    return _("Tencent Cloud refused: %(code)s %(message)s") % {
        "code": answer.get("Code", ""),
        "message": answer.get("Message", ""),
    }
