"""The one content check of uploads (core.uploads), used by customer, follow-up and
opportunity attachments."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.core import uploads
from kehu.core.errors import InvalidInput
from kehu.core.testing.factories import Organisation
from kehu.customers import services as customer_services
from kehu.followups import services as followup_services
from kehu.opportunities import services as opportunity_services
from kehu.opportunities.tests.factories import make_customer, make_opportunity

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
HEIC = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.png", PNG),
        ("a.pdf", b"%PDF-1.7"),
        ("a.heic", HEIC),
        ("a.zip", b"PK\x03\x04rest"),
        ("a.txt", "会议纪要".encode()),
        ("a.csv", b"name,mobile\n"),
        ("a.dwg", b"AC1032"),  # no signature known: only not markup
    ],
)
def test_matching_content_passes(name: str, content: bytes) -> None:
    upload = SimpleUploadedFile(name, content)
    assert uploads.content_problem(upload, uploads.extension_of(name)) is None
    assert upload.read() == content  # the check leaves the file at its start


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.png", b"<html><script>alert(1)</script>"),
        ("a.png", b"GIF89a"),
        ("a.pdf", PNG),
        ("a.heic", b"\x00\x00\x00\x18moov"),
        ("a.txt", b"  <!DOCTYPE html>"),
        ("a.txt", b"\xef\xbb\xbf<svg onload=alert(1)>"),
        ("a.dwg", b"<?xml version='1.0'?><svg/>"),
        ("a.html", b"hello"),
        ("a.svg", b"hello"),
        ("noext", b"<html>"),
    ],
)
def test_mismatched_or_markup_content_is_refused(name: str, content: bytes) -> None:
    assert uploads.content_problem(SimpleUploadedFile(name, content), uploads.extension_of(name))


def test_extension_and_served_type() -> None:
    assert uploads.extension_of("C:\\照片\\IMG.JPG") == "jpg"
    assert uploads.extension_of("README") == ""
    assert uploads.content_type_of("png") == "image/png"
    assert uploads.content_type_of("dwg") == "application/octet-stream"


@pytest.mark.django_db
def test_every_attachment_service_refuses_html_named_png(
    org: Organisation, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    page = b"<html><script>alert(1)</script></html>"
    customer = make_customer(org.rep)
    with pytest.raises(InvalidInput):
        customer_services.attachment_add(
            actor=org.rep, customer=customer, upload=SimpleUploadedFile("图.png", page)
        )
    opportunity = make_opportunity(org.rep, customer)
    with pytest.raises(InvalidInput):
        opportunity_services.attachment_add(
            actor=org.rep,
            opportunity=opportunity,
            kind="proposal",
            file=SimpleUploadedFile("方案.png", page),
        )
    with pytest.raises(InvalidInput):
        followup_services.followup_create(
            actor=org.rep,
            customer=customer,
            data={
                "method": "phone",
                "content": "电话",
                "attachments": [SimpleUploadedFile("图.png", page)],
            },
        )
    assert not customer.attachments.exists()
    assert not opportunity.attachments.exists()
