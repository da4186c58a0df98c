"""``python -m reference_sync run`` (the same as the ``reference-sync`` console script)."""

from .cli import main

main()
