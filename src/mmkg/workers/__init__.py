"""Celery workers: the app, thin tasks that take ids and re-read the graph, job records, and the
beat schedule. Engine logic stays in :mod:`mmkg.platform`."""
