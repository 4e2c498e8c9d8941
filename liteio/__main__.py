"""``python -m liteio`` is the ``liteio`` command."""

from liteio.cli import main

raise SystemExit(main())
