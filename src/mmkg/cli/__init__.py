"""The ``mmkg`` command line."""
