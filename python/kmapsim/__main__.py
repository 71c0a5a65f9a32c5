"""``python -m kmapsim``: the same CLI as the ``kmapsim`` console script."""

from kmapsim.cli import main

raise SystemExit(main())
