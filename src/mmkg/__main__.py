"""``python -m mmkg``: the same as the ``mmkg`` console script."""

from mmkg.cli.main import app

app()
