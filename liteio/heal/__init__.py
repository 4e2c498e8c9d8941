"""Healing: bring every drive back in line with the quorum.

    heal_object   one object, every version, every drive        object_heal.py
                    the look (changes nothing)                   survey.py
                    the repair (rebuild, install, sweep)         repair.py
                    shard streams: check, rebuild from K         shards.py
                    what was found and done                      results.py
    MRFQueue      objects a request just saw damaged             mrf.py
    Scanner       every object, slowly, resuming after restarts  scanner.py
    HealService   MRF + scanner for a running store              service.py
"""

from liteio.heal.mrf import MRFConfig, MRFQueue, MRFStats
from liteio.heal.object_heal import heal_object
from liteio.heal.results import DanglingVersion, DriveReport, HealResult, ShardRepair
from liteio.heal.scanner import Scanner, ScannerConfig, ScannerStats
from liteio.heal.service import HealService

__all__ = [
    "DanglingVersion", "DriveReport", "HealResult", "HealService", "MRFConfig", "MRFQueue",
    "MRFStats", "Scanner", "ScannerConfig", "ScannerStats", "ShardRepair", "heal_object",
]
