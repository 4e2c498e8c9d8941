"""liteio.server.heal_status: workers publish their heal status; any one merges all."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from liteio.server.heal_status import (
    HealStatusBoard,
    merge_status,
    remove_status_files,
    status_file,
    sum_counters,
)


def mrf(**kw: Any) -> dict[str, Any]:
    return {"queued": 0, "in_flight": 0, "healed": 0, "failed": 0, "bytes_rebuilt": 0,
            "last_error": "", "recent": [], **kw}


def test_sum_counters() -> None:
    merged = sum_counters([
        mrf(queued=1, healed=2, bytes_rebuilt=10, recent=["a"]),
        mrf(queued=3, healed=1, last_error="b/k: boom", recent=["b", "c"]),
    ])
    assert merged["queued"] == 4 and merged["healed"] == 3 and merged["bytes_rebuilt"] == 10
    assert merged["last_error"] == "b/k: boom"
    assert merged["recent"] == ["a", "b", "c"]
    assert sum_counters([{"running": False}, {"running": True}]) == {"running": True}


def test_merge_takes_mrf_from_all_and_the_rest_from_worker_0() -> None:
    entries = [
        {"index": 1, "pid": 11, "age_seconds": 0.5,
         "status": {"mrf": mrf(healed=2), "scanner": None, "drives": None}},
        {"index": 0, "pid": 10, "age_seconds": 0.0,
         "status": {"mrf": mrf(healed=1), "scanner": {"cycle": 3}, "drives": [{"set": 0}],
                    "future": "kept"}},
    ]
    out = merge_status(entries)
    assert out["mrf"]["healed"] == 3
    assert out["scanner"] == {"cycle": 3} and out["drives"] == [{"set": 0}]
    assert out["future"] == "kept"
    assert [w["index"] for w in out["workers"]] == [0, 1]
    assert [w["mrf"]["healed"] for w in out["workers"]] == [1, 2]


def test_merge_without_worker_0_or_healing() -> None:
    out = merge_status([{"index": 0, "status": None, "missing": True},
                        {"index": 1, "status": {"mrf": None, "scanner": None}}])
    assert out["mrf"] is None and out["scanner"] is None
    assert out["workers"][0]["missing"] is True


def test_boards_publish_and_merge(tmp_path: Path) -> None:
    prefix = str(tmp_path / "liteio-dep")
    figures = [{"mrf": mrf(healed=1), "scanner": {"cycle": 7}}, {"mrf": mrf(healed=5)}]
    boards = [HealStatusBoard(prefix, i, 2, lambda i=i: figures[i]) for i in range(2)]
    # Nothing published yet by worker 1: worker 0 sees it missing.
    assert boards[0].merged()["workers"][1]["missing"] is True
    assert boards[1].publish() is True
    assert boards[1].publish() is False  # unchanged: not written again
    assert boards[0].merged()["mrf"]["healed"] == 6
    doc = json.loads(Path(status_file(prefix, 1)).read_text())
    assert doc["index"] == 1 and doc["pid"] == os.getpid()
    # Worker 1 answers: its own figures from memory, worker 0's (scanner too) from its file.
    figures[1] = {"mrf": mrf(healed=9)}
    boards[0].publish()
    merged = boards[1].merged()
    assert merged["mrf"]["healed"] == 10 and merged["scanner"] == {"cycle": 7}
    assert not list(tmp_path.glob("*.tmp"))
    remove_status_files(prefix)
    assert not list(tmp_path.iterdir())


def test_board_runs_and_writes_once_more_at_stop(tmp_path: Path) -> None:
    prefix = str(tmp_path / "liteio-dep")
    state = {"mrf": mrf(healed=1)}

    async def main() -> None:
        board = HealStatusBoard(prefix, 1, 2, lambda: state)
        board.start()
        await asyncio.sleep(0.05)
        assert json.loads(Path(status_file(prefix, 1)).read_text())["status"] == state
        state["mrf"] = mrf(healed=2)
        await board.stop()
        assert json.loads(Path(status_file(prefix, 1)).read_text())["status"]["mrf"][
            "healed"] == 2

    asyncio.run(main())
