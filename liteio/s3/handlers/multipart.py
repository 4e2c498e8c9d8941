"""Multipart uploads (wired to the object layer once its multipart API lands)."""

from __future__ import annotations

from liteio.s3.context import Request
from liteio.s3.errors import S3Error


async def _not_yet(request: Request) -> None:
    raise S3Error("NotImplemented", "Multipart uploads are not implemented yet")


create_upload = upload_part = complete_upload = abort_upload = list_parts = list_uploads = _not_yet
