"""What an uploaded file really is: decided by its bytes, never by its name or declared content type.

A `ContentProbe` is fed every chunk once, as the upload streams in: it counts the size, computes the
SHA-256, keeps the first bytes for the magic-number sniff (puremagic) and tells whether the whole file
is plain text. Images are then opened with Pillow to prove they decode, and get a thumbnail with no
metadata (EXIF, GPS, ICC, comments).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import re
import unicodedata
from dataclasses import dataclass

import puremagic
from django.utils.text import get_valid_filename
from PIL import Image, ImageOps

SNIFF_BYTES = 8192

# The allow-list (issue #6): the detected MIME type and the extension a download gets.
ALLOWED_TYPES: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
    "video/mp4": ".mp4",
    "text/plain": ".txt",
}
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}

# A signature this sure of itself means the bytes are a format, not prose that happens to start
# like one (puremagic gives JSON 0.2, HTML 0.5, SVG 0.6, PDF 0.4, PNG 0.8).
_BINARY_CONFIDENCE = 0.5
# C0 controls other than tab, LF, FF, CR never occur in text (in UTF-8 and GB18030 alike every byte
# below 0x20 is a character of its own), so one regex over the raw bytes is enough.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Probed:
    size: int
    sha256: str
    head: bytes
    is_text: bool


class ContentProbe:
    """Fed every chunk of one file, in order: size, SHA-256, first bytes, and plain-text-ness."""

    def __init__(self) -> None:
        self.size = 0
        self._digest = hashlib.sha256()
        self._head = bytearray()
        self._text = True
        # Chinese chat logs come as UTF-8 or, exported from Windows, GB18030: both count as text.
        self._decoders = [codecs.getincrementaldecoder(enc)() for enc in ("utf-8-sig", "gb18030")]

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._digest.update(chunk)
        if len(self._head) < SNIFF_BYTES:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
        if self._text:
            if _CONTROL.search(chunk):
                self._text = False
            else:
                self._decoders = [d for d in self._decoders if _decodes(d, chunk, final=False)]
                self._text = bool(self._decoders)

    def finish(self) -> Probed:
        is_text = self._text and any(_decodes(d, b"", final=True) for d in self._decoders)
        return Probed(size=self.size, sha256=self._digest.hexdigest(), head=bytes(self._head), is_text=is_text)


def _decodes(decoder, chunk: bytes, *, final: bool) -> bool:
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError:
        return False
    return True


def probe_file(file) -> Probed:
    """Probe a file that was not probed while streaming (a service called outside a request)."""
    probe = ContentProbe()
    file.seek(0)
    for chunk in file.chunks() if hasattr(file, "chunks") else iter(lambda: file.read(65536), b""):
        probe.feed(chunk)
    file.seek(0)
    return probe.finish()


def detect_type(probed: Probed) -> str | None:
    """The allowed MIME type the bytes are, or None: the most confident signatures decide."""
    try:
        matches = puremagic.magic_string(probed.head) if probed.head else []
    except (puremagic.PureError, ValueError):
        matches = []
    sure = [m for m in matches if m.confidence >= _BINARY_CONFIDENCE]
    if matches:
        best = max(m.confidence for m in matches)
        for match in matches:
            if match.confidence == best and match.mime_type in ALLOWED_TYPES and match.mime_type != "text/plain":
                return match.mime_type
    if not sure and probed.is_text:
        return "text/plain"
    return None


def clean_name(name: str | None) -> str:
    """The uploader's file name, for display and downloads only (storage names are generated):
    no directories, no control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    try:
        name = get_valid_filename(name)
    except Exception:  # SuspiciousFileOperation for names that clean down to nothing
        name = ""
    stem, ext = os.path.splitext(name)
    return (stem[: 200 - len(ext[:20])] + ext[:20]) or "evidence"


def download_name(original: str, content_type: str) -> str:
    """The original stem with the extension of what the file really is."""
    stem = os.path.splitext(original)[0] or "evidence"
    return stem + ALLOWED_TYPES.get(content_type, "")


class ImageRefused(Exception):
    def __init__(self, detail: str, code: str):
        super().__init__(detail)
        self.detail, self.code = detail, code


def image_thumbnail(file, *, content_type: str, max_side: int, max_pixels: int) -> bytes:
    """Decode the image (proving it is one) and return a JPEG thumbnail carrying no metadata."""
    file.seek(0)
    try:
        with Image.open(file, formats=[IMAGE_TYPES[content_type]]) as image:
            if image.width * image.height > max_pixels:
                raise ImageRefused(
                    f"the image is {image.width}×{image.height} pixels, more than {max_pixels}", "image_too_large"
                )
            image.draft("RGB", (max_side, max_side))
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((max_side, max_side))
            rgba = upright.convert("RGBA")
            # A new image holds only the pixels: EXIF, GPS, ICC profiles and comments stay behind.
            clean = Image.new("RGB", rgba.size, (255, 255, 255))
            clean.paste(rgba, mask=rgba.getchannel("A"))
    except ImageRefused:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRefused(f"the image has too many pixels ({exc})", "image_too_large")
    except (OSError, SyntaxError, ValueError, MemoryError) as exc:
        raise ImageRefused(f"the file is not a readable {IMAGE_TYPES[content_type]} image ({exc})", "invalid_image")
    finally:
        file.seek(0)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=82, optimize=True)
    return out.getvalue()
