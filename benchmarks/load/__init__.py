"""Load harness: a running ``liteio server`` beside nginx (the static ceiling) and moto.

    python -m benchmarks.load [--quick] [--phases put,get,...] [--out docs/performance-server.md]

``generator`` replays prebuilt (presigned) requests from one process per
connection; ``targets`` starts and stops the servers; ``harness`` runs the
phases; ``report`` writes the markdown table with the issue's targets.
"""
