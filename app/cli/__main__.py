"""``python -m app.cli``: the ``samverkan`` command."""

from app.cli import main

main()
