"""The S3 error catalogue: every failure becomes one code, status and XML document.

Handlers raise :class:`S3Error` (or let object/auth errors propagate); the
app's error handler calls :func:`to_s3_error` and renders it. Nothing else
builds an error body.
"""

from __future__ import annotations

from liteio.object import errors as oerr
from liteio.s3.auth import CATALOGUE as AUTH_CATALOGUE
from liteio.s3.auth import AuthError

# code -> (HTTP status, default message)
CATALOGUE: dict[str, tuple[int, str]] = {
    **AUTH_CATALOGUE,
    "BadRequest": (400, "Bad Request"),
    "BucketAlreadyExists": (409, "The requested bucket name is not available."),
    "BucketAlreadyOwnedByYou": (
        409, "Your previous request to create the named bucket succeeded and you already own it."),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty"),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed object size."),
    "EntityTooSmall": (400, "Your proposed upload is smaller than the minimum allowed object size."),
    "InternalError": (500, "We encountered an internal error, please try again."),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid."),
    "InvalidPart": (
        400,
        ("One or more of the specified parts could not be found. The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag."),
    ),
    "InvalidPartOrder": (
        400, "The list of parts was not in ascending order. Parts must be ordered by part number."),
    "InvalidRange": (416, "The requested range is not satisfiable"),
    "InvalidStorageClass": (400, "The storage class you specified is not valid"),
    "KeyTooLongError": (400, "Your key is too long"),
    "MalformedXML": (
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    ),
    "MetadataTooLarge": (400, "Your metadata headers exceed the maximum allowed metadata size."),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchTagSet": (404, "The TagSet does not exist"),
    "NoSuchUpload": (
        404,
        ("The specified multipart upload does not exist. The upload ID may be invalid, or the "
        "upload may have been aborted or completed."),
    ),
    "NoSuchVersion": (404, "The specified version does not exist."),
    "NotImplemented": (501, "A header you provided implies functionality that is not implemented"),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold"),
    "SlowDown": (503, "Please reduce your request rate."),
    "ServiceUnavailable": (503, "The service is unavailable. Please retry."),
    "XLiteioInvalidObjectName": (400, "Object name contains unsupported characters."),
    "InvalidTag": (400, "The tag provided was not a valid tag."),
    "IllegalVersioningConfigurationException": (
        400, "The versioning configuration specified in the request is invalid."),
    "MaxMessageLengthExceeded": (400, "Your request was too big."),
    "RequestHeaderSectionTooLarge": (400, "Your request header section exceeds the maximum allowed size."),
    "InvalidURI": (400, "Couldn't parse the specified URI."),
    "ConditionalRequestConflict": (
        409, "A conflicting operation occurred. If using PutObject you can retry the request."),
}


class S3Error(Exception):
    """An S3 error response: code, message, status and optional extra elements."""

    __slots__ = ("code", "details", "headers", "message", "status")

    def __init__(self, code: str, message: str | None = None, *, status: int | None = None,
                 details: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        default_status, default_message = CATALOGUE.get(code, (400, code))
        self.code = code
        self.message = default_message if message is None else message
        self.status = default_status if status is None else status
        self.details: dict[str, str] = details or {}
        self.headers: dict[str, str] = headers or {}
        super().__init__(f"{code}: {self.message}")


def _object_error(exc: oerr.ObjectError) -> S3Error:
    detail: dict[str, str] = {}
    if exc.bucket:
        detail["BucketName"] = exc.bucket
    if exc.key:
        detail["Key"] = exc.key
    match exc:
        case oerr.BucketNotFound():
            return S3Error("NoSuchBucket", details=detail)
        case oerr.BucketExists():
            return S3Error("BucketAlreadyOwnedByYou", details=detail)
        case oerr.BucketNotEmpty():
            return S3Error("BucketNotEmpty", details=detail)
        case oerr.InvalidBucketName():
            return S3Error("InvalidBucketName", str(exc), details=detail)
        case oerr.ObjectNotFound():
            headers = {"x-amz-delete-marker": "true"} if exc.delete_marker else {}
            if exc.delete_marker and exc.version_id:
                headers["x-amz-version-id"] = exc.version_id
            return S3Error("NoSuchKey", details=detail, headers=headers)
        case oerr.VersionNotFound():
            return S3Error("NoSuchVersion", details=detail)
        case oerr.MethodNotAllowed():
            headers = {"x-amz-delete-marker": "true"}
            if exc.version_id:
                headers["x-amz-version-id"] = exc.version_id
            return S3Error("MethodNotAllowed", details=detail, headers=headers)
        case oerr.InvalidObjectName():
            code = "KeyTooLongError" if "longer than 1024" in str(exc) else "XLiteioInvalidObjectName"
            return S3Error(code, str(exc), details=detail)
        case oerr.InsufficientReadQuorum() | oerr.InsufficientWriteQuorum():
            return S3Error("SlowDown", f"Insufficient drives online: {exc}", details=detail)
        case oerr.IncompleteBody():
            return S3Error("IncompleteBody", details=detail)
        case oerr.EntityTooLarge():
            return S3Error("EntityTooLarge", details=detail)
        case oerr.BadDigest():
            return S3Error("BadDigest", str(exc) or None, details=detail)
        case oerr.PreconditionFailed():
            return S3Error("PreconditionFailed", details=detail)
        case oerr.NoSuchUpload():
            return S3Error("NoSuchUpload", details=detail)
        case oerr.InvalidPart():
            return S3Error("InvalidPart", details=detail)
        case oerr.InvalidPartOrder():
            return S3Error("InvalidPartOrder", details=detail)
        case oerr.EntityTooSmall():
            return S3Error("EntityTooSmall", details=detail)
        case oerr.InvalidRange():
            return S3Error("InvalidRange", details={**detail, "ActualObjectSize": str(exc.size)})
        case oerr.InvalidArgument():
            return S3Error("InvalidArgument", str(exc), details=detail)
        case oerr.InvalidRequest():
            return S3Error("InvalidRequest", str(exc), details=detail)
    return S3Error("InternalError", details=detail)


def to_s3_error(exc: BaseException) -> S3Error | None:
    """The S3 error for a known failure, or None for an unexpected exception."""
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, AuthError):
        return S3Error(exc.code, exc.message, status=exc.status, details=dict(exc.details))
    if isinstance(exc, oerr.ObjectError):
        return _object_error(exc)
    return None
