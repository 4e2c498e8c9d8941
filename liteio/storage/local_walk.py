"""Sorted walk of one volume: objects (and common prefixes) in S3 key order.

Ordering. S3 orders keys by their UTF-8 bytes; Python compares ``str`` by
code point, which is the same order. A directory is not a key, so a plain
sorted directory walk is wrong: for names "a", "a-b", "a/c" S3 wants
"a" < "a-b" < "a/c" ('-' is 0x2D, '/' 0x2F), but sorting directory entries
would visit "a" and all its children before "a-b". So each subdirectory
``n`` of a directory becomes two *items*, sorted together by key:

    (key_base + decode(n), OBJ,  n)   the object stored in n, if n/xl.meta exists
    (key_base + n + "/",   TREE, n)   everything below n: keys "n/..."

``decode`` turns "X__XLDIR__" into "X/" (a key with a trailing slash). Every
key below TREE n starts with "n/", and the only other item of the same
directory whose key can start with "n/" is OBJ "n/" itself (from the
directory "n__XLDIR__"), which is smaller than any key below n and sorts
first on the tie (OBJ < TREE). So visiting items in sorted order, expanding
TREE items in place, yields keys in global order. The walk is iterative
(explicit stack): keys may have hundreds of components.

Costs per object: one open/fstat/read/close of its xl.meta. Leaf object
directories are not scanned when the filesystem's link counts tell us they
have no subdirectories (nlink == 2, probed per drive); data dirs of an object
(UUID-named subdirs its xl.meta names) are never descended into, since a
multipart data dir can hold 10,000 part files.

``start_after`` is applied by bisecting each directory's sorted items, so
skipped entries cost no xl.meta reads, and directories sorting entirely
before it are never opened.
"""

from __future__ import annotations

import bisect
import errno
import os
import re
from collections.abc import Generator, Iterator

from liteio.storage.api import WalkEntry
from liteio.storage.errors import PathInvalid
from liteio.storage.local_files import read_file_or_none, scan_dirs
from liteio.storage.local_xl import data_dir_names
from liteio.storage.paths import DIR_SUFFIX, XL_META, check_path

_OBJ = 0
_TREE = 1
_XL = "/" + XL_META
_SUFFIX_LEN = len(DIR_SUFFIX)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class _Unread:
    """Stands for an object's xl.meta that has not been read (yet)."""

    __slots__ = ()


_UNREAD = _Unread()

Item = tuple[str, int, str]
OwnXL = bytes | None | _Unread


def _decode(name: str) -> str:
    if name.endswith(DIR_SUFFIX):
        return name[:-_SUFFIX_LEN] + "/"
    return name


class _Frame:
    """One directory being visited: its sorted items and how far we got."""

    __slots__ = ("items", "pos", "rel")

    def __init__(self, rel: str, items: list[Item], pos: int) -> None:
        self.rel = rel
        self.items = items
        self.pos = pos


class VolumeWalker:
    """Produces the ``WalkEntry`` stream of one ``walk`` call (synchronously).

    ``entries()`` is a generator; the drive resumes it on its executor one
    batch at a time. It keeps no file descriptors open between entries, so
    it can be resumed from any thread and dropped at any point.
    """

    __slots__ = ("after", "base", "nlink_ok", "prefix", "recursive")

    def __init__(
        self, volume_dir: str, prefix: str, *, recursive: bool, start_after: str, nlink_ok: bool
    ) -> None:
        self.base = volume_dir
        self.prefix = prefix
        self.recursive = recursive
        self.after = start_after
        self.nlink_ok = nlink_ok

    # -- directory reading ----------------------------------------------------

    def _abs(self, rel: str) -> str:
        return self.base + "/" + rel if rel else self.base

    def _subdirs(self, rel: str, own_xl: OwnXL) -> list[str]:
        """Subdirectories of ``rel`` minus the data dirs of the object stored in it.

        ``own_xl`` is that object's xl.meta if already read (None: no object,
        ``_UNREAD``: not read yet). It is parsed only when a UUID-named
        subdir makes it necessary.
        """
        try:
            names = scan_dirs(self._abs(rel))
        except (FileNotFoundError, NotADirectoryError):
            return []
        if not any(_UUID.fullmatch(n) for n in names):
            return names
        if isinstance(own_xl, _Unread):
            own_xl = read_file_or_none(self._abs(rel) + _XL)
        if not own_xl:
            return names
        skip = data_dir_names(own_xl)
        return [n for n in names if n not in skip]

    def _may_have_subdirs(self, rel: str) -> bool:
        if not self.nlink_ok:
            return True
        try:
            return os.stat(self._abs(rel)).st_nlink != 2
        except (FileNotFoundError, NotADirectoryError):
            return False

    @staticmethod
    def _items(names: list[str], key_base: str, name_prefix: str) -> list[Item]:
        items: list[Item] = []
        for n in names:
            if not n.startswith(name_prefix):
                continue
            decoded = _decode(n)
            # NOTE: "ja__XLDIR__" matches the name prefix "ja__" but its key
            # "ja/" does not.
            if decoded.startswith(name_prefix):
                items.append((key_base + decoded, _OBJ, n))
            items.append((key_base + n + "/", _TREE, n))
        items.sort()
        return items

    def _read_xl(self, rel: str) -> bytes | None:
        return read_file_or_none(self._abs(rel) + _XL)

    def _has_object_below(self, rel: str, own_xl: OwnXL) -> bool:
        """Whether any object lives strictly below ``rel``.

        PERF: lazy: it streams ``scandir`` and stops at the first subdirectory
        holding an xl.meta, so a prefix entry for a folder of a million
        objects costs one getdents batch and one stat, not a full listing.
        """
        if not self._may_have_subdirs(rel):
            return False
        # Children are pushed only when none of them holds an xl.meta: their own xl is None.
        stack: list[tuple[str, OwnXL]] = [(rel, own_xl)]
        while stack:
            cur, xl = stack.pop()
            skip: set[str] | None = None  # the data dirs of cur's object, parsed on demand
            later: list[str] = []
            try:
                with os.scandir(self._abs(cur)) as it:
                    for e in it:
                        if not e.is_dir(follow_symlinks=False):
                            continue
                        if _UUID.fullmatch(e.name):
                            if skip is None:
                                if isinstance(xl, _Unread):
                                    xl = read_file_or_none(self._abs(cur) + _XL)
                                skip = data_dir_names(xl) if xl else set()
                            if e.name in skip:
                                continue
                        if os.path.exists(e.path + _XL):
                            return True
                        later.append(cur + "/" + e.name)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for child in reversed(later):
                if self._may_have_subdirs(child):
                    stack.append((child, None))
        return False

    # -- the walk ---------------------------------------------------------------

    def entries(self) -> Generator[WalkEntry, None, None]:
        prefix = self.prefix
        # The directory holding every key with this prefix, and the part of
        # the prefix that filters names inside it ("photos/ja" -> "photos", "ja").
        base_rel, slash, name_prefix = prefix.rpartition("/")
        if not os.path.isdir(self.base):
            raise FileNotFoundError(errno.ENOENT, "no such volume", self.base)
        if slash:
            try:
                check_path(base_rel)
            except PathInvalid:
                return  # "a//b", "/x", "../x": no key we could have stored matches
        key_base = base_rel + "/" if base_rel else ""
        if base_rel and not name_prefix and prefix > self.after:
            # The key equal to the prefix ("photos/") is stored beside the
            # directory ("photos__XLDIR__") and sorts before all keys below it.
            raw = self._read_xl(base_rel + DIR_SUFFIX)
            if raw is not None:
                yield WalkEntry(prefix, raw)
        try:
            names = scan_dirs(self._abs(base_rel))
        except (FileNotFoundError, NotADirectoryError):
            return
        items = self._items(names, key_base, name_prefix)
        if self.recursive:
            yield from self._recursive(base_rel, items)
        else:
            yield from self._delimited(base_rel, items)

    def _start(self, items: list[Item], key_base: str) -> tuple[int, Item | None]:
        """Where to resume in a directory's items, and the TREE item that holds
        ``start_after`` (to be entered with the same bound), if any."""
        after = self.after
        if not after or after < key_base:
            return 0, None
        pos = bisect.bisect_right(items, (after, _TREE + 1))
        rest = after[len(key_base) :]
        if after.startswith(key_base) and "/" in rest:
            tree = (key_base + rest.partition("/")[0] + "/", _TREE, rest.partition("/")[0])
            i = bisect.bisect_left(items, tree)
            if i < len(items) and items[i] == tree:
                return pos, tree
        return pos, None

    def _recursive(self, base_rel: str, items: list[Item]) -> Iterator[WalkEntry]:
        pos, holder = self._start(items, base_rel + "/" if base_rel else "")
        stack: list[_Frame] = [_Frame(base_rel, items, pos)]
        # xl.meta of the object just yielded: its TREE item comes soon after
        # and needs it to skip the object's data dirs.
        last_obj: tuple[str, bytes | None] = ("", None)
        if holder is not None:
            self._push_tree(stack, base_rel, holder, _UNREAD, bounded=True)
        while stack:
            frame = stack[-1]
            if frame.pos >= len(frame.items):
                stack.pop()
                continue
            key, kind, name = frame.items[frame.pos]
            frame.pos += 1
            rel = frame.rel + "/" + name if frame.rel else name
            if kind == _OBJ:
                raw = self._read_xl(rel)
                last_obj = (rel, raw)
                if raw is not None:
                    yield WalkEntry(key, raw)
                continue
            own: OwnXL = last_obj[1] if last_obj[0] == rel else _UNREAD
            self._push_tree(stack, frame.rel, (key, kind, name), own, bounded=False)

    def _push_tree(
        self,
        stack: list[_Frame],
        parent: str,
        item: Item | None,
        own_xl: OwnXL,
        *,
        bounded: bool,
    ) -> None:
        """Push the frame of a TREE item. ``bounded``: the item holds
        ``start_after``, so the frame starts past it, and so on down the chain
        of directories holding it (a loop, not recursion: keys may be deep)."""
        while item is not None:
            key, _, name = item
            rel = parent + "/" + name if parent else name
            if not self._may_have_subdirs(rel):
                return
            subs = self._subdirs(rel, own_xl)
            if not subs:
                return
            items = self._items(subs, key, "")
            if not bounded:
                stack.append(_Frame(rel, items, 0))
                return
            pos, item = self._start(items, key)
            stack.append(_Frame(rel, items, pos))
            parent, own_xl = rel, _UNREAD

    def _delimited(self, base_rel: str, items: list[Item]) -> Iterator[WalkEntry]:
        """Objects directly under the prefix, and one prefix entry per child
        directory that really holds an object (S3's delimiter "/")."""
        after = self.after
        pos = bisect.bisect_right(items, (after, _TREE + 1)) if after else 0
        last_prefix = ""
        last_obj: tuple[str, bytes | None] = ("", None)
        for key, kind, name in items[pos:]:
            rel = base_rel + "/" + name if base_rel else name
            if kind == _OBJ:
                if key.endswith("/"):
                    # "X__XLDIR__" holds key "X/": with a delimiter it rolls up
                    # into the common prefix "X/".
                    if key != last_prefix and os.path.exists(self._abs(rel) + _XL):
                        last_prefix = key
                        yield WalkEntry(key, None)
                    continue
                raw = self._read_xl(rel)
                last_obj = (rel, raw)
                if raw is not None:
                    yield WalkEntry(key, raw)
                continue
            if key == last_prefix:
                continue
            own: OwnXL = last_obj[1] if last_obj[0] == rel else _UNREAD
            if self._has_object_below(rel, own):
                last_prefix = key
                yield WalkEntry(key, None)
