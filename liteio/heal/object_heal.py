"""Heal one object: bring every drive of its set in line with the quorum, all versions.

    survey  (read lock)   read every drive's xl.meta; the versions a read quorum holds
                          are the truth; per drive: which of them it lacks, which     survey.py
                          versions it has that the quorum does not, which shard
                          streams are missing, the wrong size or (deep) rotten,
                          which data dirs nothing refers to
    clean?                done: no lock was ever taken for writing
    survey again (write lock, so no PUT or DELETE of the object can interleave)
    rebuild               per version and part: K verified shards -> the missing      repair.py
                          ones, written to each drive's .minio.sys/tmp
    install, per drive    shard files renamed into place, then xl.meta written
                          (the commit point, as for a PUT), then unreferenced
                          data dirs removed

A version some drives hold but no read quorum does is "dangling". It is
removed only when the answers prove no write quorum ever held it: the drives
whose xl.meta has it, those that lost xl.meta but still have its shard
files, and those that could not answer add up to fewer than W. Otherwise it
is reported and kept.

The whole repair runs under the object's write lock: a PUT's commit, a
DELETE or a GET's open of that object waits for it (see the NOTE in
``heal_object``).
"""

from __future__ import annotations

import logging
import time

from liteio.heal import results as R
from liteio.heal.repair import apply
from liteio.heal.results import HealResult
from liteio.heal.survey import Plan, survey
from liteio.object.erasure_set import ErasureSet

log = logging.getLogger("liteio.heal")


async def heal_object(es: ErasureSet, bucket: str, key: str, *, deep: bool = False,
                      dry_run: bool = False) -> HealResult:
    """Check one object on every drive of its set and (unless ``dry_run``) repair it.

    ``deep`` verifies every frame of every shard stream (reads the whole
    object from every drive); otherwise part files are checked for presence
    and size, and inline streams (already in memory) are verified.
    """
    started = time.monotonic()
    name = f"{bucket}/{key}"
    async with es.locks.read(name):
        plan = await survey(es, bucket, key, deep)
    if not dry_run and plan.result.needs_heal:
        # NOTE: held while shards are rebuilt, so a very large damaged object keeps its
        # own PUTs/GETs waiting (up to the lock timeout); staging the rebuild unlocked
        # and re-checking before install would shorten that, at twice the complexity.
        async with es.locks.write(name):
            # Again, now that nothing can change underneath: the first look was unlocked
            # for writers, and a PUT or DELETE may have landed in between.
            plan = await survey(es, bucket, key, deep)
            if plan.result.needs_heal:
                await apply(plan)
    result = plan.result
    result.dry_run = dry_run
    result.fully_redundant = _redundant(plan, applied=not dry_run)
    result.seconds = time.monotonic() - started
    if result.failed:
        log.warning("event=heal_object %s errors=%r", result.summary(), result.errors[:3])
    elif result.healed:
        log.info("event=heal_object %s", result.summary())
    return result


def _redundant(plan: Plan, applied: bool) -> bool:
    """Every drive reachable and holding every quorum version intact, nothing dangling
    (after the repairs when ``applied``, else as found)."""
    result = plan.result
    if not result.found:
        return True
    if result.unrecoverable or result.errors or any(not x.removed for x in result.dangling):
        return False
    for d in plan.drives:
        report = d.report
        if not d.reachable or report.errors:
            return False
        if not applied:
            if report.damaged:
                return False
            continue
        if any(not s.done for s in report.shards):
            return False
        if report.metadata != R.META_OK and not report.metadata_written:
            return False
        if report.stray_data_dirs and not report.strays_removed:
            return False
    return True
