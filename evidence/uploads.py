"""The evidence upload handler: the size limit and the content probe applied while the body streams.

Installed on `POST evidence/` only (evidence/views.py), before DRF parses the body. A file over
EVIDENCE_MAX_BYTES stops the upload at the first chunk past the limit and answers 413; a body whose
declared length is already too large is refused before a byte of it is read.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from rest_framework import exceptions, status

from .content import ContentProbe

# Room for the other form fields and the multipart boundaries around the file.
FORM_SLACK_BYTES = 256 * 1024


class FileTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"

    def __init__(self, limit: int | None = None):
        limit = limit if limit is not None else settings.EVIDENCE_MAX_BYTES
        super().__init__(f"an evidence file may be at most {limit} bytes", "file_too_large")


class EvidenceUploadHandler(TemporaryFileUploadHandler):
    """Streams each file to a temporary file (never RAM) while probing it: size, SHA-256, type."""

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.max_bytes: int = settings.EVIDENCE_MAX_BYTES
        self.total = 0
        self.probe = ContentProbe()

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.max_bytes + FORM_SLACK_BYTES:
            raise FileTooLarge(self.max_bytes)
        return None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.probe = ContentProbe()

    def receive_data_chunk(self, raw_data: bytes, start: int):
        self.total += len(raw_data)
        if self.probe.size + len(raw_data) > self.max_bytes or self.total > self.max_bytes + FORM_SLACK_BYTES:
            self.file.close()  # the temporary file goes away now, not at garbage collection
            raise FileTooLarge(self.max_bytes)
        self.probe.feed(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int):
        file = super().file_complete(file_size)
        file.probed = self.probe.finish()  # type: ignore[union-attr]  # read by evidence_submit
        return file
