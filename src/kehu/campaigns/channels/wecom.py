"""WeCom (企业微信) customer messages: ``externalcontact/add_msg_template`` (创建企业群发).

Why this API and not ``message/send``: ``message/send`` (应用消息) reaches only the company's own
members, while campaign members are customers, who exist in WeCom as external contacts
(``external_userid``). ``add_msg_template`` creates a group-send task for external contacts;
WeCom delivers it when the sending member confirms it in the WeCom client, and each customer
receives at most four such messages a month. "Sent" here therefore means WeCom accepted the
task (its ``msgid`` is the message's provider id); customers WeCom will not reach through the
sender come back in ``fail_list`` and become those messages' errors.

A task has one text for all its customers: messages are grouped by their rendered text (one
task per distinct text, up to 10,000 customers each). ``campaigns.wecom_sender`` names the
member who sends (empty: each customer's own member, as WeCom picks).

Access: ``gettoken`` with the corp id and the secret of the 客户联系 application gives an
``access_token`` valid ``expires_in`` seconds (7,200). It is cached (the Django cache, shared
through Redis by every process) until five minutes before it expires, as WeCom asks callers
to; a token WeCom calls invalid or expired (40014, 42001) is dropped, fetched again and the
call retried once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import httpx
from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import config

from . import common
from .base import ChannelUnavailable, Outcome, Outgoing

NAME = "wecom"
SECRET_VARIABLE = "KEHU_WECOM_CORP_SECRET"
TASK_SIZE = 10_000  # external_userid per task
MAX_TEXT_BYTES = 4_000  # text.content
TOKEN_MARGIN = 300  # seconds before expiry a cached token is fetched anew
STALE_TOKEN = frozenset({40014, 42001, 41001})

ENDPOINT = config.define(
    "campaigns.wecom_endpoint",
    "https://qyapi.weixin.qq.com/",
    gettext_lazy("WeCom API endpoint"),
    group="campaigns",
    check=config.http_url,
    help=gettext_lazy("The address of WeCom's server API; change it only for a proxy."),
)
CORP_ID = config.define(
    "campaigns.wecom_corp_id",
    "",
    gettext_lazy("WeCom corp id (企业ID)"),
    group="campaigns",
    help=gettext_lazy("The company's corp id from WeCom's admin console (我的企业 → 企业信息)."),
)
SENDER = config.define(
    "campaigns.wecom_sender",
    "",
    gettext_lazy("WeCom sending member"),
    group="campaigns",
    help=gettext_lazy(
        "The userid of the member who confirms and sends campaign messages; empty: each "
        "customer's own member sends."
    ),
)


class WeComCustomerMessages:
    name = NAME

    def __init__(self) -> None:
        self.base = str(config.get(ENDPOINT.key)).rstrip("/")
        self.sender = str(config.get(SENDER.key) or "").strip()
        self.failure = ""

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        self.corp_id = common.setting(CORP_ID)
        self.corp_secret = common.secret(SECRET_VARIABLE)
        batch = common.BatchOutcomes(len(messages))
        tasks: dict[str, list[int]] = {}
        for index, message in enumerate(messages):
            if not message.address.strip():
                batch.set(index, Outcome(error=_("No WeCom external contact id.")))
            elif len(message.text.encode()) > MAX_TEXT_BYTES:
                batch.set(index, Outcome(error=_("Longer than WeCom's 4,000 bytes.")))
            else:
                tasks.setdefault(message.text, []).append(index)
        with common.client() as http:
            for text, indexes in tasks.items():
                for start in range(0, len(indexes), TASK_SIZE):
                    if batch.stopped:
                        break
                    chunk = indexes[start : start + TASK_SIZE]
                    self._send_task(http, batch, messages, text, chunk)
        return batch.result()

    def _send_task(
        self,
        http: httpx.Client,
        batch: common.BatchOutcomes,
        messages: Sequence[Outgoing],
        text: str,
        chunk: list[int],
    ) -> None:
        payload: dict[str, Any] = {
            "chat_type": "single",
            "external_userid": [messages[index].address.strip() for index in chunk],
            "text": {"content": text},
        }
        if self.sender:
            payload["sender"] = self.sender
        try:
            answer = self._post(http, "/cgi-bin/externalcontact/add_msg_template", payload)
        except ChannelUnavailable as unavailable:  # no token
            return batch.unavailable(chunk, str(unavailable))
        if answer is None:
            return batch.unavailable(chunk, self.failure)
        errcode = answer.get("errcode")
        if errcode != 0:
            return batch.unavailable(chunk, _refusal(answer))
        failed = {str(item) for item in answer.get("fail_list") or []}
        task = str(answer.get("msgid", ""))
        for index in chunk:
            if messages[index].address.strip() in failed:
                batch.answer(
                    index,
                    Outcome(
                        error=_(
                            "WeCom cannot send to this customer (not an external contact of "
                            "the sender, or over the monthly limit)."
                        )
                    ),
                )
            else:
                batch.answer(index, Outcome(provider_id=task))
        return None

    def _post(
        self, http: httpx.Client, path: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        for attempt in range(2):
            token = self._token(http, fresh=attempt > 0)
            answer = self._json(
                lambda token=token: http.post(
                    f"{self.base}{path}", params={"access_token": token}, json=payload
                )
            )
            if answer is None or answer.get("errcode") not in STALE_TOKEN:
                return answer
            cache.delete(self._cache_key())
        return answer

    def _cache_key(self) -> str:
        fingerprint = hashlib.sha256(f"{self.corp_id}:{self.corp_secret}".encode()).hexdigest()
        return f"kehu:campaigns:wecom-token:{fingerprint[:24]}"

    def _token(self, http: httpx.Client, *, fresh: bool = False) -> str:
        key = self._cache_key()
        if not fresh:
            cached = cache.get(key)
            if cached:
                return str(cached)
        answer = self._json(
            lambda: http.get(
                f"{self.base}/cgi-bin/gettoken",
                params={"corpid": self.corp_id, "corpsecret": self.corp_secret},
            )
        )
        if answer is None:
            raise ChannelUnavailable(self.failure)
        token = answer.get("access_token")
        if answer.get("errcode") != 0 or not token:
            raise ChannelUnavailable(_refusal(answer))
        lifetime = int(answer.get("expires_in") or 7200)
        cache.set(key, token, timeout=max(60, lifetime - TOKEN_MARGIN))
        return str(token)

    def _json(self, request: Any) -> dict[str, Any] | None:
        try:
            response = request()
            answer = response.json()
        except httpx.HTTPError as error:
            self.failure = common.http_failure(error)
            return None
        except ValueError:
            self.failure = _("WeCom answered HTTP %(status)s without JSON.") % {
                "status": response.status_code
            }
            return None
        if response.status_code != 200 or not isinstance(answer, dict):
            self.failure = _("WeCom answered HTTP %(status)s.") % {"status": response.status_code}
            return None
        return answer


def _refusal(answer: dict[str, Any]) -> str:
    return _("WeCom refused: %(code)s %(message)s") % {
        "code": answer.get("errcode", ""),
        "message": answer.get("errmsg", ""),
    }
