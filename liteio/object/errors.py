"""Object errors: outcomes the S3 front door maps, one to one, onto S3 error codes."""

from __future__ import annotations


class ObjectError(Exception):
    """Base of every error the object layer reports to its callers."""

    def __init__(self, message: str = "", *, bucket: str = "", key: str = "") -> None:
        super().__init__(message or type(self).__name__)
        self.bucket = bucket
        self.key = key


class BucketNotFound(ObjectError):
    pass


class BucketExists(ObjectError):
    pass


class BucketNotEmpty(ObjectError):
    pass


class InvalidBucketName(ObjectError):
    pass


class ObjectNotFound(ObjectError):
    """No such key, or its latest version is a delete marker (``delete_marker`` set)."""

    def __init__(self, message: str = "", *, bucket: str = "", key: str = "",
                 delete_marker: bool = False, version_id: str | None = None) -> None:
        super().__init__(message, bucket=bucket, key=key)
        self.delete_marker = delete_marker
        self.version_id = version_id


class VersionNotFound(ObjectError):
    pass


class MethodNotAllowed(ObjectError):
    """A GET/HEAD of a specific version that is a delete marker."""

    def __init__(self, message: str = "", *, bucket: str = "", key: str = "",
                 version_id: str | None = None) -> None:
        super().__init__(message, bucket=bucket, key=key)
        self.version_id = version_id


class InvalidObjectName(ObjectError):
    pass


class InsufficientReadQuorum(ObjectError):
    pass


class InsufficientWriteQuorum(ObjectError):
    pass


class IncompleteBody(ObjectError):
    pass


class EntityTooLarge(ObjectError):
    pass


class BadDigest(ObjectError):
    """A body failed a checksum the client sent (Content-MD5 or x-amz-checksum-*)."""


class PreconditionFailed(ObjectError):
    pass


class NoSuchUpload(ObjectError):
    pass


class InvalidPart(ObjectError):
    pass


class InvalidPartOrder(ObjectError):
    pass


class EntityTooSmall(ObjectError):
    pass


class InvalidRange(ObjectError):
    def __init__(self, message: str = "", *, bucket: str = "", key: str = "", size: int = 0) -> None:
        super().__init__(message, bucket=bucket, key=key)
        self.size = size


class InvalidArgument(ObjectError):
    pass


class DriveLayoutError(ObjectError):
    """Drives cannot be brought up as a deployment (mixed deployments, bad format)."""


class InvalidRequest(ObjectError):
    """A request that is well-formed but asks for nothing sensible (e.g. completing a
    multipart upload with no parts; the S3 layer may answer MalformedXML for that)."""
