"""Fixtures for evidence tests: disputes made straight with the ORM (not under test here), and files
whose bytes are what they claim (or lie about it)."""

import io
import struct
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from disputes.models import Case, Complaint, Refund
from tests.factories import OrderFactory


def make_refund(*, buyer, shop, reason="quality_issue", status=Refund.Status.PENDING_SELLER, **extra) -> Refund:
    order = OrderFactory(buyer=buyer, shop=shop, status="completed")
    return Refund.objects.create(
        order=order,
        shop=shop,
        buyer=buyer,
        created_by=buyer,
        kind=Refund.Kind.REFUND_ONLY,
        reason=reason,
        stage=Refund.Stage.RECEIVED,
        amount=Decimal("50.00"),
        status=status,
        **extra,
    )


def make_complaint(*, buyer, shop, type="late_shipment", **extra) -> Complaint:
    order = OrderFactory(buyer=buyer, shop=shop, status="paid")
    return Complaint.objects.create(order=order, shop=shop, buyer=buyer, created_by=buyer, type=type, **extra)


def make_case(subject) -> Case:
    kind = Case.Kind.REFUND if isinstance(subject, Refund) else Case.Kind.COMPLAINT
    return Case.objects.create(
        kind=kind,
        refund=subject if kind == Case.Kind.REFUND else None,
        complaint=subject if kind == Case.Kind.COMPLAINT else None,
        order=subject.order,
        shop=subject.shop,
        buyer=subject.buyer,
    )


def image_bytes(fmt="PNG", size=(64, 48), exif_gps=False) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    kwargs = {}
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "EvilCam"  # Make
        exif[0x0110] = "Model-GPS"  # Model
        gps = exif.get_ifd(0x8825)
        gps[1] = "N"
        gps[2] = (30.0, 16.0, 12.0)
        gps[3] = "E"
        gps[4] = (120.0, 9.0, 1.0)
        kwargs["exif"] = exif
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def mp4_bytes() -> bytes:
    ftyp = b"ftypisom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", 8) + b"free"


def text_bytes(encoding="utf-8") -> bytes:
    return "2026-11-11 10:02 买家: 收到的羽绒服袖口开线了\n2026-11-11 10:05 卖家: 亲,麻烦拍照看看\n".encode(encoding)


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def upload(content: bytes, name="file.bin", content_type="application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)
