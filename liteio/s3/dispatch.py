"""``(level, method, sub-resource) -> handler``: the S3 API as one table.

The level is ``service`` (no bucket), ``bucket`` or ``object``. The
sub-resource is the first query parameter that names one (``?versioning``,
``?uploads``, ``?uploadId=...``); ``""`` when there is none. Known S3
sub-resources we do not serve answer ``NotImplemented``; anything else falls
through to the plain operation, as S3 ignores unknown query parameters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from liteio.s3.context import Request
from liteio.s3.errors import S3Error
from liteio.s3.handlers import acl, bucket, listing, multipart, objects, service, tagging

Handler = Callable[[Request], Awaitable[None]]

TABLE: dict[tuple[str, str, str], Handler] = {
    ("service", "GET", ""): service.list_buckets,
    ("bucket", "PUT", ""): bucket.create_bucket,
    ("bucket", "HEAD", ""): bucket.head_bucket,
    ("bucket", "DELETE", ""): bucket.delete_bucket,
    ("bucket", "GET", ""): listing.list_objects,
    ("bucket", "GET", "location"): bucket.get_location,
    ("bucket", "GET", "versioning"): bucket.get_versioning,
    ("bucket", "PUT", "versioning"): bucket.put_versioning,
    ("bucket", "GET", "versions"): listing.list_object_versions,
    ("bucket", "GET", "uploads"): multipart.list_uploads,
    ("bucket", "POST", "delete"): objects.delete_objects,
    ("bucket", "GET", "tagging"): tagging.get_bucket_tagging,
    ("bucket", "PUT", "tagging"): tagging.put_bucket_tagging,
    ("bucket", "DELETE", "tagging"): tagging.delete_bucket_tagging,
    ("bucket", "GET", "acl"): acl.get_bucket_acl,
    ("bucket", "PUT", "acl"): acl.put_bucket_acl,
    ("object", "PUT", ""): objects.put_or_copy_object,
    ("object", "GET", ""): objects.get_object,
    ("object", "HEAD", ""): objects.head_object,
    ("object", "DELETE", ""): objects.delete_object,
    ("object", "GET", "tagging"): tagging.get_object_tagging,
    ("object", "PUT", "tagging"): tagging.put_object_tagging,
    ("object", "DELETE", "tagging"): tagging.delete_object_tagging,
    ("object", "GET", "acl"): acl.get_object_acl,
    ("object", "PUT", "acl"): acl.put_object_acl,
    ("object", "POST", "uploads"): multipart.create_upload,
    ("object", "PUT", "uploadId"): multipart.upload_part,
    ("object", "POST", "uploadId"): multipart.complete_upload,
    ("object", "DELETE", "uploadId"): multipart.abort_upload,
    ("object", "GET", "uploadId"): multipart.list_parts,
}

# Sub-resources S3 defines; the ones missing from TABLE answer NotImplemented.
SUBRESOURCES = (
    "uploads", "uploadId", "versioning", "versions", "location", "delete", "tagging", "acl",
    "policy", "policyStatus", "lifecycle", "cors", "encryption", "object-lock", "replication",
    "website", "logging", "notification", "accelerate", "requestPayment", "ownershipControls",
    "publicAccessBlock", "intelligent-tiering", "analytics", "inventory", "metrics", "retention",
    "legal-hold", "attributes", "restore", "select", "torrent", "session", "renameObject",
)


def find(request: Request) -> Handler:
    level = "service" if not request.bucket else "object" if request.key else "bucket"
    sub = next((name for name in SUBRESOURCES if name in request.query), "")
    handler = TABLE.get((level, request.method, sub))
    if handler is not None:
        return handler
    if sub:
        raise S3Error("NotImplemented",
                      f"{request.method} ?{sub} on a {level} is not implemented by liteio")
    if level == "service" and request.method != "GET":
        raise S3Error("MethodNotAllowed")
    raise S3Error("MethodNotAllowed" if request.method in ("GET", "PUT", "HEAD", "DELETE", "POST")
                  else "NotImplemented")
