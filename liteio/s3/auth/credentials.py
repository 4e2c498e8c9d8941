"""Who may sign requests: access key -> secret key (one root user today, IAM later)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from liteio.s3.auth.errors import AuthError


@dataclass(frozen=True, slots=True)
class Credential:
    """One signing identity. ``session_token`` is set only for temporary credentials."""

    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.access_key or "/" in self.access_key or not self.access_key.isprintable():
            raise ValueError("an access key must be non-empty, printable and without '/'")
        if not self.secret_key:
            raise ValueError("a secret key must not be empty")

    def check_session_token(self, presented: str | None) -> None:
        """Raise ``InvalidToken`` unless the token presented is this credential's own."""
        if self.session_token is None and presented is None:
            return
        if (
            self.session_token is None
            or presented is None
            or not hmac.compare_digest(
                self.session_token.encode("utf-8"),
                presented.encode("utf-8", "surrogateescape"),
            )
        ):
            raise AuthError("InvalidToken")


class Credentials:
    """A mapping of access keys to :class:`Credential`; lookups raise ``InvalidAccessKeyId``.

    Reads are plain dict lookups, safe from any thread; ``add``/``remove``
    replace single entries, which is atomic in CPython.
    """

    __slots__ = ("_by_key",)

    def __init__(self, entries: Mapping[str, str] | Iterable[Credential] = ()) -> None:
        self._by_key: dict[str, Credential] = {}
        if isinstance(entries, Mapping):
            for access_key, secret_key in entries.items():
                self.add(Credential(access_key, secret_key))
        else:
            for cred in entries:
                self.add(cred)

    @classmethod
    def single(cls, access_key: str, secret_key: str) -> Credentials:
        return cls([Credential(access_key, secret_key)])

    def add(self, cred: Credential) -> None:
        self._by_key[cred.access_key] = cred

    def remove(self, access_key: str) -> None:
        self._by_key.pop(access_key, None)

    def lookup(self, access_key: str) -> Credential:
        cred = self._by_key.get(access_key)
        if cred is None:
            raise AuthError("InvalidAccessKeyId", details={"AWSAccessKeyId": access_key})
        return cred

    def __contains__(self, access_key: object) -> bool:
        return access_key in self._by_key

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __repr__(self) -> str:
        return f"Credentials({sorted(self._by_key)!r})"
