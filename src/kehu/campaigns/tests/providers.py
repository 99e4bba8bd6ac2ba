"""Local stand-ins for Aliyun SMS, Tencent Cloud SMS and WeCom, each a real HTTP server in a
thread that checks requests the way the provider does and answers in the provider's format.

The signature checks here are written from the providers' published algorithms, separately
from the back-ends' own signing code (which they must never import), and are themselves
checked against the worked examples the providers publish (``test_channels``): a back-end
that signs wrongly is refused here exactly as the provider would refuse it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlparse

# --- the providers' published algorithms, as a verifier computes them --------------------------


def aliyun_encode(text: str) -> str:
    """Aliyun's percent-encoding recipe: URL-encode, then ``+``→%20, ``*``→%2A, %7E→``~``."""
    return quote_plus(text, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def aliyun_expected_signature(method: str, params: dict[str, str], secret: str) -> str:
    pairs = sorted((key, value) for key, value in params.items() if key != "Signature")
    canonical = "&".join(aliyun_encode(key) + "=" + aliyun_encode(value) for key, value in pairs)
    string_to_sign = method + "&" + aliyun_encode("/") + "&" + aliyun_encode(canonical)
    mac = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), "sha1")
    return base64.b64encode(mac.digest()).decode("ascii")


def tc3_expected_signature(
    secret_key: str,
    *,
    service: str,
    timestamp: str,
    signed_headers: list[str],
    header_values: dict[str, str],
    body: bytes,
) -> str:
    canonical_headers = "".join(
        name + ":" + header_values[name].strip().lower() + "\n" for name in signed_headers
    )
    canonical_request = (
        "POST\n/\n\n"
        + canonical_headers
        + "\n"
        + ";".join(signed_headers)
        + "\n"
        + hashlib.sha256(body).hexdigest()
    )
    date = datetime.fromtimestamp(int(timestamp), UTC).date().isoformat()
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            timestamp,
            f"{date}/{service}/tc3_request",
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )

    def step(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()

    signing_key = step(
        step(step(("TC3" + secret_key).encode("utf-8"), date), service), "tc3_request"
    )
    return hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


# --- the servers ----------------------------------------------------------------------------------


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class JsonHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@dataclass
class Delivery:
    number: str
    template: str
    parameters: Any
    sign_name: str = ""


@dataclass
class AliyunSmsLog:
    keys: dict[str, str]
    sign_names: set[str]
    templates: set[str]
    illegal: set[str] = field(default_factory=set)  # numbers refused as illegal
    calls: list[dict[str, str]] = field(default_factory=list)  # every request received
    codes: list[str] = field(default_factory=list)  # every answer's Code
    delivered: list[Delivery] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    down_after: int | None = None  # answer 503 once this many calls were answered


@contextmanager
def aliyun_sms_server(log: AliyunSmsLog) -> Iterator[str]:
    lock = threading.Lock()

    class Handler(JsonHandler):
        def do_POST(self) -> None:
            raw = self.body().decode("utf-8")
            params = dict(parse_qsl(raw, keep_blank_values=True))
            with lock:
                log.calls.append(params)
                status, payload = self.handle_call(params)
                log.codes.append(str(payload.get("Code")))
            self.answer(status, {"RequestId": str(uuid.uuid4()).upper(), **payload})

        def refuse(self, status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
            return status, {"Code": code, "Message": message, "HostId": "dysmsapi.aliyuncs.com"}

        def handle_call(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
            if log.down_after is not None and len(log.codes) >= log.down_after:
                return self.refuse(503, "ServiceUnavailable", "The request has failed.")
            if (
                params.get("SignatureMethod") != "HMAC-SHA1"
                or params.get("SignatureVersion") != "1.0"
            ):
                return self.refuse(400, "IncompleteSignature", "The request signature is wrong.")
            secret = log.keys.get(params.get("AccessKeyId", ""))
            if secret is None:
                return self.refuse(
                    404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
                )
            try:
                stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                return self.refuse(
                    400, "InvalidTimeStamp.Format", "Specified time stamp is not valid."
                )
            if abs(time.time() - stamp.replace(tzinfo=UTC).timestamp()) > 900:
                return self.refuse(
                    400,
                    "InvalidTimeStamp.Expired",
                    "Specified time stamp or date value is expired.",
                )
            nonce = params.get("SignatureNonce", "")
            if not nonce or nonce in log.nonces:
                return self.refuse(
                    400, "SignatureNonceUsed", "Specified signature nonce was used already."
                )
            log.nonces.add(nonce)
            if params.get("Signature") != aliyun_expected_signature("POST", params, secret):
                return self.refuse(
                    400,
                    "SignatureDoesNotMatch",
                    "Specified signature is not matched with our calculation.",
                )
            if params.get("Version") != "2017-05-25" or params.get("Format") != "JSON":
                return self.refuse(
                    400, "InvalidVersion", "Specified parameter Version is not valid."
                )
            action = params.get("Action")
            if action == "SendBatchSms":
                numbers = json.loads(params["PhoneNumberJson"])
                signs = json.loads(params["SignNameJson"])
                values = json.loads(params["TemplateParamJson"])
                if not len(numbers) == len(signs) == len(values):
                    return self.refuse(200, "isv.INVALID_PARAMETERS", "JSON lengths differ.")
                if len(numbers) > 100:
                    return self.refuse(200, "isv.MOBILE_COUNT_OVER_LIMIT", "Over 100 numbers.")
            elif action == "SendSms":
                numbers = params["PhoneNumbers"].split(",")
                signs = [params["SignName"]] * len(numbers)
                values = [json.loads(params.get("TemplateParam") or "{}")] * len(numbers)
            else:
                return self.refuse(404, "InvalidAction.NotFound", "Specified api is not found.")
            if any(sign not in log.sign_names for sign in signs):
                return self.refuse(200, "isv.SMS_SIGNATURE_ILLEGAL", "The sign name is illegal.")
            if params.get("TemplateCode") not in log.templates:
                return self.refuse(200, "isv.SMS_TEMPLATE_ILLEGAL", "The template is illegal.")
            for number in numbers:
                if number in log.illegal or not re.fullmatch(r"1\d{10}|[2-9]\d{7,14}", number):
                    return self.refuse(
                        200, "isv.MOBILE_NUMBER_ILLEGAL", f"Illegal number {number}."
                    )
            for number, sign, value in zip(numbers, signs, values, strict=True):
                log.delivered.append(Delivery(number, params["TemplateCode"], value, sign))
            return 200, {"Code": "OK", "Message": "OK", "BizId": f"{len(log.calls)}^0"}

    with serve(Handler) as url:
        yield url + "/"


@dataclass
class TencentSmsLog:
    keys: dict[str, str]
    app_id: str
    templates: set[str]
    blacklist: set[str] = field(default_factory=set)
    max_parameter_length: int = 0  # 0: no limit; else longer values refuse the whole call
    calls: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    delivered: list[Delivery] = field(default_factory=list)


AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)"
    r"/tc3_request, SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


@contextmanager
def tencent_sms_server(log: TencentSmsLog) -> Iterator[str]:
    lock = threading.Lock()

    class Handler(JsonHandler):
        def do_POST(self) -> None:
            body = self.body()
            with lock:
                response = self.handle_call(body)
                error = response.get("Error")
                if error:
                    log.errors.append(error["Code"])
            self.answer(200, {"Response": {**response, "RequestId": str(uuid.uuid4())}})

        def error(self, code: str, message: str) -> dict[str, Any]:
            return {"Error": {"Code": code, "Message": message}}

        def handle_call(self, body: bytes) -> dict[str, Any]:
            match = AUTHORIZATION.fullmatch(self.headers.get("Authorization", ""))
            if match is None:
                return self.error("AuthFailure.InvalidAuthorization", "Authorization is invalid.")
            secret = log.keys.get(match["id"])
            if secret is None:
                return self.error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
            timestamp = self.headers.get("X-TC-Timestamp", "")
            if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
                return self.error("AuthFailure.SignatureExpire", "Signature expired.")
            date = datetime.fromtimestamp(int(timestamp), UTC).date().isoformat()
            if match["date"] != date or match["service"] != "sms":
                return self.error(
                    "AuthFailure.InvalidAuthorization", "Credential scope is invalid."
                )
            signed = match["headers"].split(";")
            if "content-type" not in signed or "host" not in signed or signed != sorted(signed):
                return self.error("AuthFailure.InvalidAuthorization", "SignedHeaders is invalid.")
            values = {name: self.headers.get(name, "") for name in signed}
            expected = tc3_expected_signature(
                secret,
                service="sms",
                timestamp=timestamp,
                signed_headers=signed,
                header_values=values,
                body=body,
            )
            if not hmac.compare_digest(expected, match["signature"]):
                return self.error(
                    "AuthFailure.SignatureFailure",
                    "The provided credentials could not be validated.",
                )
            if (
                self.headers.get("X-TC-Action") != "SendSms"
                or self.headers.get("X-TC-Version") != "2021-01-11"
            ):
                return self.error("InvalidAction", "The action or version is invalid.")
            payload = json.loads(body)
            log.calls.append({"headers": dict(self.headers.items()), "payload": payload})
            if payload.get("SmsSdkAppId") != log.app_id:
                return self.error(
                    "FailedOperation.MissingSignatureToModify", "SmsSdkAppId does not exist."
                )
            if payload.get("TemplateId") not in log.templates:
                return self.error(
                    "FailedOperation.TemplateIncorrectOrUnapproved", "The template is not approved."
                )
            numbers = payload.get("PhoneNumberSet") or []
            values = payload.get("TemplateParamSet") or []
            if log.max_parameter_length and any(
                len(value) > log.max_parameter_length for value in values
            ):
                return self.error(
                    "InvalidParameterValue.TemplateParameterLengthLimit",
                    "a template parameter is too long",
                )
            if len(numbers) > 200:
                return self.error("LimitExceeded.PhoneNumberCountLimit", "Over 200 numbers.")
            statuses = []
            for number in numbers:
                serial = uuid.uuid4().hex
                if not re.fullmatch(r"\+\d{8,15}", number):
                    code, message = "InvalidParameterValue.IncorrectPhoneNumber", "incorrect number"
                elif number in log.blacklist:
                    code, message = "FailedOperation.PhoneNumberInBlacklist", "number in blacklist"
                else:
                    code, message = "Ok", "send success"
                    log.delivered.append(
                        Delivery(
                            number,
                            payload["TemplateId"],
                            payload.get("TemplateParamSet"),
                            payload.get("SignName", ""),
                        )
                    )
                statuses.append(
                    {
                        "SerialNo": serial if code == "Ok" else "",
                        "PhoneNumber": number,
                        "Fee": 1 if code == "Ok" else 0,
                        "SessionContext": "",
                        "Code": code,
                        "Message": message,
                        "IsoCode": "CN",
                    }
                )
            return {"SendStatusSet": statuses}

    with serve(Handler) as url:
        yield url + "/"


@dataclass
class WeComLog:
    corp_id: str
    secret: str
    customers: set[str]  # external contacts the sender can reach
    lifetime: int = 7200
    tokens: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    token_calls: int = 0
    tasks: list[dict[str, Any]] = field(default_factory=list)
    errcodes: list[int] = field(default_factory=list)

    def revoke_tokens(self) -> None:
        self.revoked |= self.tokens
        self.tokens = set()


@contextmanager
def wecom_server(log: WeComLog) -> Iterator[str]:
    lock = threading.Lock()

    def query(path: str) -> tuple[str, dict[str, str]]:
        parsed = urlparse(path)
        return parsed.path, dict(parse_qsl(parsed.query, keep_blank_values=True))

    class Handler(JsonHandler):
        def reply(self, payload: dict[str, Any]) -> None:
            log.errcodes.append(int(payload["errcode"]))
            self.answer(200, payload)

        def do_GET(self) -> None:
            path, params = query(self.path)
            if path != "/cgi-bin/gettoken":
                return self.reply({"errcode": 404, "errmsg": "not found"})
            with lock:
                log.token_calls += 1
                if params.get("corpid") != log.corp_id:
                    return self.reply({"errcode": 40013, "errmsg": "invalid corpid"})
                if params.get("corpsecret") != log.secret:
                    return self.reply({"errcode": 40001, "errmsg": "invalid credential"})
                token = uuid.uuid4().hex
                log.tokens.add(token)
            return self.reply(
                {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": log.lifetime}
            )

        def do_POST(self) -> None:
            path, params = query(self.path)
            payload = json.loads(self.body() or b"{}")
            token = params.get("access_token", "")
            with lock:
                if not token:
                    return self.reply({"errcode": 41001, "errmsg": "access_token missing"})
                if token in log.revoked:
                    return self.reply({"errcode": 42001, "errmsg": "access_token expired"})
                if token not in log.tokens:
                    return self.reply({"errcode": 40014, "errmsg": "invalid access_token"})
                if path != "/cgi-bin/externalcontact/add_msg_template":
                    return self.reply({"errcode": 404, "errmsg": "not found"})
                ids = payload.get("external_userid") or []
                content = (payload.get("text") or {}).get("content", "")
                if payload.get("chat_type", "single") != "single" or not (
                    ids or payload.get("sender")
                ):
                    return self.reply({"errcode": 40058, "errmsg": "invalid parameter"})
                if not content:
                    return self.reply({"errcode": 41016, "errmsg": "content missing"})
                failed = [item for item in ids if item not in log.customers]
                msgid = f"msg{len(log.tasks) + 1:06d}"
                log.tasks.append({**payload, "msgid": msgid})
            return self.reply({"errcode": 0, "errmsg": "ok", "fail_list": failed, "msgid": msgid})

    with serve(Handler) as url:
        yield url + "/"
