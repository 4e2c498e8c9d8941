"""Bucket and object ACLs, read-only: the owner has FULL_CONTROL, nobody else anything.

liteio has one owner per server and no grants, so GET ?acl answers the canned
``private`` policy (what MinIO answers too); tools such as ``s3cmd info`` and
``aws s3api get-object-acl`` read it. PUT ?acl accepts only what changes
nothing: the canned ``private`` ACL, or a policy whose one grant gives the
owner FULL_CONTROL. Anything else would be a promise we cannot keep.
"""

from __future__ import annotations

from liteio.s3.context import Request
from liteio.s3.errors import S3Error
from liteio.s3.handlers.common import owner_id, owner_xml, send_empty, send_xml, version_param
from liteio.s3.xmlio import child, child_text, children, element, parse

SMALL_XML = 64 << 10
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _policy_xml(request: Request) -> str:
    access = (request.auth.access_key if request.auth else None) or "anonymous"
    grantee = (f'<Grantee xmlns:xsi="{XSI}" xsi:type="CanonicalUser">'
               + element("ID", owner_id(request)) + element("DisplayName", access) + "</Grantee>")
    grant = "<Grant>" + grantee + element("Permission", "FULL_CONTROL") + "</Grant>"
    return owner_xml(request) + "<AccessControlList>" + grant + "</AccessControlList>"


async def get_bucket_acl(request: Request) -> None:
    await request.layer.get_bucket_info(request.bucket)
    send_xml(request, "AccessControlPolicy", _policy_xml(request))


async def get_object_acl(request: Request) -> None:
    await request.layer.get_object_info(request.bucket, request.key, version_param(request))
    send_xml(request, "AccessControlPolicy", _policy_xml(request))


async def _check_private(request: Request) -> None:
    if any(name.startswith("x-amz-grant-") for name in request.headers):
        raise S3Error("NotImplemented", "ACL grants are not implemented by liteio")
    canned = request.headers.get("x-amz-acl")
    body = await request.read_small_body(SMALL_XML)
    if canned is not None:
        if canned != "private" or body.strip():
            raise S3Error("NotImplemented", "Only the canned 'private' ACL is supported by liteio")
        return
    if not body.strip():
        raise S3Error("MissingSecurityHeader", "Your request was missing a required header",
                      status=400, details={"MissingHeaderName": "x-amz-acl"})
    acl = child(parse(body, "AccessControlPolicy"), "AccessControlList")
    grants = children(acl, "Grant") if acl is not None else []
    if len(grants) != 1 or child_text(grants[0], "Permission") != "FULL_CONTROL":
        raise S3Error("NotImplemented", "Only the owner's FULL_CONTROL grant is supported by liteio")
    grantee = child(grants[0], "Grantee")
    if grantee is None or child_text(grantee, "ID") != owner_id(request):
        raise S3Error("NotImplemented", "Only the owner's FULL_CONTROL grant is supported by liteio")


async def put_bucket_acl(request: Request) -> None:
    await request.layer.get_bucket_info(request.bucket)
    await _check_private(request)
    send_empty(request)


async def put_object_acl(request: Request) -> None:
    await request.layer.get_object_info(request.bucket, request.key, version_param(request))
    await _check_private(request)
    send_empty(request)
