"""Authentication failures, each carrying the exact S3 error code and HTTP status.

This package never renders XML: the S3 layer maps an :class:`AuthError` to its
error document through the one error table. ``details`` holds the extra
elements S3 adds to some of these documents (``<Region>``, ``<ServerTime>``,
``<StringToSign>``, ``<HeadersNotSigned>`` ...), in the order S3 emits them.
"""

from __future__ import annotations

# code -> (HTTP status, S3's default message)
CATALOGUE: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied"),
    "AuthorizationHeaderMalformed": (400, "The authorization header you provided is invalid."),
    "AuthorizationQueryParametersError": (400, "Error parsing the query parameters."),
    "BadDigest": (
        400,
        (
            "The Content-MD5 or checksum value that you specified did not match what the "
            "server received."
        ),
    ),
    "IncompleteBody": (
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
    ),
    "InvalidAccessKeyId": (
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    "InvalidArgument": (400, "Invalid Argument"),
    # NOTE: S3 answers 403 for this one in the reports we found; unverified.
    "InvalidChunkSizeError": (
        403,
        "Only the last chunk is allowed to have a size less than 8192 bytes",
    ),
    "InvalidRequest": (400, "Invalid Request"),
    "InvalidToken": (400, "The provided token is malformed or otherwise invalid."),
    "MalformedTrailerError": (
        400,
        (
            "The request contained trailing data that was not well-formed or did not "
            "conform to our published schema."
        ),
    ),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "MissingSecurityHeader": (400, "Your request is missing a required header."),
    "NotImplemented": (
        501,
        "A header you provided implies functionality that is not implemented.",
    ),
    "RequestTimeTooSkewed": (
        403,
        "The difference between the request time and the current time is too large.",
    ),
    "SignatureDoesNotMatch": (
        403,
        (
            "The request signature we calculated does not match the signature you "
            "provided. Check your key and signing method."
        ),
    ),
    "XAmzContentSHA256Mismatch": (
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
}

BODY_TERMINATED = "The request body terminated unexpectedly"


class AuthError(Exception):
    """A request failed authentication or its body failed verification.

    ``AuthError("SignatureDoesNotMatch")`` takes the status and message from
    :data:`CATALOGUE`; either can be overridden.
    """

    __slots__ = ("code", "details", "message", "status")

    def __init__(
        self,
        code: str,
        message: str | None = None,
        status: int | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        default_status, default_message = CATALOGUE.get(code, (400, code))
        self.code = code
        self.message = default_message if message is None else message
        self.status = default_status if status is None else status
        self.details: dict[str, str] = details or {}
        super().__init__(f"{code}: {self.message}")

    def __repr__(self) -> str:
        return f"AuthError({self.code!r}, {self.message!r}, {self.status})"


def header_malformed(reason: str, **details: str) -> AuthError:
    return AuthError(
        "AuthorizationHeaderMalformed",
        f"The authorization header is malformed; {reason}",
        details=details,
    )


def query_malformed(message: str, **details: str) -> AuthError:
    return AuthError("AuthorizationQueryParametersError", message, details=details)


def incomplete_body(message: str = BODY_TERMINATED, **details: str) -> AuthError:
    return AuthError("IncompleteBody", message, details=details)


def malformed_trailer() -> AuthError:
    return AuthError("MalformedTrailerError")


def unsupported_sigv2() -> AuthError:
    # NOTE: what S3 answers in SigV4-only regions; liteio's answer when SigV2 is turned off.
    return AuthError(
        "InvalidRequest",
        "The authorization mechanism you have provided is not supported. "
        "Please use AWS4-HMAC-SHA256.",
    )


def sigv4a_not_implemented() -> AuthError:
    return AuthError(
        "NotImplemented",
        "Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not implemented.",
    )
