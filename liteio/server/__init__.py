"""``liteio server``: configuration, start-up and the Hypercorn process."""
