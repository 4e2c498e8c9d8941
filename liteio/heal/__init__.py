"""Healing: bring every drive back in line with the quorum.

    heal_object   one object, every version, every drive        object_heal.py
                    the look (changes nothing)                   survey.py
                    the repair (rebuild, install, sweep)         repair.py
                    shard streams: check, rebuild from K         shards.py
                    what was found and done                      results.py
    MRFQueue      objects a request just saw damaged             mrf.py
    Scanner       every object, slowly, resuming after restarts  scanner.py
    DriveHealer   format an emptied/replaced drive into its      drive_heal.py
                    slot and refill it, resuming after restarts
                    its progress record on the drive             tracker.py
    HealService   MRF + scanner + drive healer for a store       service.py
"""

from liteio.heal.drive_heal import DriveHealConfig, DriveHealer
from liteio.heal.mrf import MRFConfig, MRFQueue, MRFStats
from liteio.heal.object_heal import heal_object
from liteio.heal.results import DanglingVersion, DriveReport, HealResult, ShardRepair
from liteio.heal.scanner import Scanner, ScannerConfig, ScannerStats
from liteio.heal.service import HealService
from liteio.heal.tracker import DriveHealTracker

__all__ = [
    "DanglingVersion", "DriveHealConfig", "DriveHealTracker", "DriveHealer", "DriveReport",
    "HealResult", "HealService", "MRFConfig", "MRFQueue", "MRFStats", "Scanner",
    "ScannerConfig", "ScannerStats", "ShardRepair", "heal_object",
]
