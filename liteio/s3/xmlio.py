"""XML in and out, the S3 way: small documents, namespace-tolerant, no DTDs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from xml.sax.saxutils import escape

from liteio.s3.errors import S3Error

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_XML_BYTES = 2 << 20  # DeleteObjects with 1,000 long keys fits comfortably


def text(value: object) -> str:
    return escape(str(value))


def element(tag: str, value: object) -> str:
    return f"<{tag}>{text(value)}</{tag}>"


def elements(pairs: Iterable[tuple[str, object]]) -> str:
    return "".join(element(tag, value) for tag, value in pairs)


def document(root: str, body: str, *, namespace: bool = True) -> bytes:
    ns = f' xmlns="{S3_NS}"' if namespace else ""
    return f"{DECLARATION}<{root}{ns}>{body}</{root}>".encode()


def error_document(code: str, message: str, details: dict[str, str], resource: str,
                   request_id: str, host_id: str) -> bytes:
    body = element("Code", code) + element("Message", message)
    body += elements(details.items())
    body += element("Resource", resource) + element("RequestId", request_id)
    body += element("HostId", host_id)
    return document("Error", body, namespace=False)


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse(data: bytes, root: str) -> ET.Element:
    """Parse a request document whose root element must be ``root`` (any namespace)."""
    if len(data) > MAX_XML_BYTES:
        raise S3Error("MaxMessageLengthExceeded")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise S3Error("MalformedXML", "Document type declarations are not allowed")
    try:
        tree = ET.fromstring(data)
    except ET.ParseError:
        raise S3Error("MalformedXML") from None
    if local(tree.tag) != root:
        raise S3Error("MalformedXML", f"Expected a {root} document")
    return tree


def child(node: ET.Element, name: str) -> ET.Element | None:
    for sub in node:
        if local(sub.tag) == name:
            return sub
    return None


def children(node: ET.Element, name: str) -> list[ET.Element]:
    return [sub for sub in node if local(sub.tag) == name]


def child_text(node: ET.Element, name: str, default: str | None = None) -> str | None:
    sub = child(node, name)
    if sub is None:
        return default
    return (sub.text or "").strip()
