"""Healing for a running store: the MRF queue, the scanner and the drive healer,
started and stopped together."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from liteio.heal.drive_heal import DriveHealConfig, DriveHealer
from liteio.heal.mrf import MRFConfig, MRFQueue
from liteio.heal.scanner import Scanner, ScannerConfig

if TYPE_CHECKING:
    from liteio.object.layer import ObjectLayer


class HealService:
    """``mrf`` / ``scanner`` / ``drives`` None: that part is off."""

    def __init__(self, layer: ObjectLayer, *, mrf: MRFConfig | None = None,
                 scanner: ScannerConfig | None = None,
                 drives: DriveHealConfig | None = None) -> None:
        self.mrf = MRFQueue(layer.sets, mrf) if mrf is not None else None
        self.scanner = Scanner(layer, scanner) if scanner is not None else None
        self.drives = DriveHealer(layer, drives) if drives is not None else None

    async def start(self) -> None:
        if self.mrf is not None:
            await self.mrf.start()
        if self.scanner is not None:
            await self.scanner.start()
        if self.drives is not None:
            await self.drives.start()

    async def stop(self) -> None:
        if self.drives is not None:
            await self.drives.stop()
        if self.scanner is not None:
            await self.scanner.stop()
        if self.mrf is not None:
            await self.mrf.stop()

    def status(self) -> dict[str, Any]:
        """What an operator (admin API, console) sees: queue, scanner and the drives
        being refilled (or last refilled)."""
        return {
            "mrf": self.mrf.stats.to_dict() if self.mrf is not None else None,
            "scanner": self.scanner.stats.to_dict() if self.scanner is not None else None,
            "drives": self.drives.status() if self.drives is not None else None,
        }
