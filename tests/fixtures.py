"""Where the shared MinIO fixtures live: ../shared beside the repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MINIO_FIXTURES = REPO.parent / "shared" / "fixtures" / "minio"


def minio_fixture(*parts: str) -> Path:
    path = MINIO_FIXTURES.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"fixture {path} is missing: the shared/ folder must sit beside the repository"
        )
    return path


def minio_vectors(name: str) -> Any:
    return json.loads(minio_fixture("vectors", name).read_text())
