"""Driving unmodified S3 tools against the module's server: where they are, how to run them.

Every tool runs with an environment scrubbed of the user's AWS/rclone/s3cmd settings and
a configuration written into tmp, so nothing outside the test can change what it does. A
missing tool fails the test (``make install`` provides them all: rclone and curl through
``system-deps``, the rest through the ``test`` extra); it never skips.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ACCESS_KEY, REGION, SECRET_KEY, LiteioServer

MIB = 1 << 20
TOOL_TIMEOUT = 60.0  # seconds; a hung client fails the test instead of the whole run
# Settings that would leak the user's (or this machine's) configuration into a client.
FOREIGN_ENV = ("AWS_", "RCLONE_", "S3CMD_", "MINIO_", "BOTO_")


def tool(name: str) -> str:
    """The path of a client program: beside this Python (pip scripts), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run 'make install' (Makefile system-deps installs "
                    f"rclone and curl, pip's '.[test]' extra awscli and s3cmd)")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(FOREIGN_ENV)}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


class Cli:
    """One client program with its fixed leading arguments and environment."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv = argv
        self.env = env

    def run(self, *args: str, timeout: float = TOOL_TIMEOUT, cwd: Path | None = None,
            stdin: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        with open(stdin or os.devnull, "rb") as source:
            return subprocess.run([*self.argv, *args], env=self.env, stdin=source,
                                  capture_output=True, timeout=timeout, cwd=cwd, check=False)

    def raw(self, *args: str, timeout: float = TOOL_TIMEOUT, cwd: Path | None = None,
            stdin: Path | None = None) -> bytes:
        """Run to success and return stdout; a failure shows the command and its output."""
        proc = self.run(*args, timeout=timeout, cwd=cwd, stdin=stdin)
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, proc.args))} exited {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout[-4000:]!r}\n"
                                 f"stderr:\n{proc.stderr.decode(errors='replace')}")
        return proc.stdout

    def __call__(self, *args: str, timeout: float = TOOL_TIMEOUT, cwd: Path | None = None,
                 stdin: Path | None = None) -> str:
        return self.raw(*args, timeout=timeout, cwd=cwd, stdin=stdin).decode()

    def with_env(self, **extra: str) -> Cli:
        return Cli(self.argv, {**self.env, **extra})


@pytest.fixture(scope="module")
def s3(server: LiteioServer) -> Any:
    """boto3, for setting up and checking what the tool under test did (cheap: in process)."""
    return server.boto3_client()


@pytest.fixture(scope="module")
def aws(server: LiteioServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The AWS CLI, its config and credentials files empty: only the environment counts."""
    home = tmp_path_factory.mktemp("aws")
    (home / "config").write_text("")
    (home / "credentials").write_text("")
    env = clean_env(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                    AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=str(home / "config"),
                    AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
                    AWS_MAX_ATTEMPTS="1", AWS_PAGER="")
    return Cli([tool("aws"), "--endpoint-url", server.endpoint], env)


def rclone_cli(server: LiteioServer, home: Path, provider: str, **options: str) -> Cli:
    """rclone with one S3 remote, ``liteio:``, defined only by RCLONE_CONFIG_LITEIO_*."""
    config = home / "rclone.conf"
    config.write_text("")
    env = clean_env(RCLONE_CONFIG=str(config), RCLONE_CONFIG_LITEIO_TYPE="s3",
                    RCLONE_CONFIG_LITEIO_PROVIDER=provider, RCLONE_CONFIG_LITEIO_ENV_AUTH="false",
                    RCLONE_CONFIG_LITEIO_ACCESS_KEY_ID=ACCESS_KEY,
                    RCLONE_CONFIG_LITEIO_SECRET_ACCESS_KEY=SECRET_KEY,
                    RCLONE_CONFIG_LITEIO_REGION=REGION,
                    RCLONE_CONFIG_LITEIO_ENDPOINT=server.endpoint,
                    **{f"RCLONE_CONFIG_LITEIO_{name.upper()}": value
                       for name, value in options.items()})
    # --retries 1: a failure must show up as one, not be papered over by a retry.
    return Cli([tool("rclone"), "--retries", "1", "--low-level-retries", "1",
                "--contimeout", "10s", "--timeout", "30s"], env)


@pytest.fixture(scope="module")
def s3cmd(server: LiteioServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """s3cmd with a config file in tmp: path-style addressing, plain HTTP, SigV4."""
    home = tmp_path_factory.mktemp("s3cmd")
    host = server.endpoint.removeprefix("http://")
    config = home / "s3cfg"
    config.write_text("[default]\n"
                      f"access_key = {ACCESS_KEY}\n"
                      f"secret_key = {SECRET_KEY}\n"
                      f"host_base = {host}\n"
                      f"host_bucket = {host}\n"
                      f"bucket_location = {REGION}\n"
                      "use_https = False\n"
                      "signature_v2 = False\n"
                      "check_ssl_certificate = False\n"
                      "progress_meter = False\n"
                      "socket_timeout = 30\n")
    return Cli([tool("s3cmd"), "--config", str(config)], clean_env(HOME=str(home)))


@pytest.fixture
def bucket_name(request: pytest.FixtureRequest) -> str:
    """A fresh bucket name per test, its prefix telling which test made it."""
    stem = "".join(c for c in request.node.name.lower() if c.isalnum())[:20] or "b"
    return f"{stem}-{uuid.uuid4().hex[:10]}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path``; return their SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    path.write_bytes(data)
    return sha256(data)


# Nested directories, an empty file, a name with a space and one with non-ASCII letters:
# what sync tools meet in real trees.
TREE = {
    "top.txt": 1_000,
    "empty.bin": 0,
    "docs/readme.md": 3_000,
    "docs/notes/2024/jan.txt": 70_000,
    "docs/notes/2024/feb report.txt": 12_345,
    "media/photo-ü.jpg": 300_000,
    "media/raw/deep/deeper/frame.raw": 1_100_000,
}


def make_tree(root: Path) -> dict[str, str]:
    """Create TREE under ``root``; return relative path -> SHA-256."""
    return {rel: random_file(root / rel, size) for rel, size in TREE.items()}


def tree_digests(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``root``."""
    return {path.relative_to(root).as_posix(): file_sha256(path)
            for path in sorted(root.rglob("*")) if path.is_file()}
