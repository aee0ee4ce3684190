"""Celery workers: the app and its thin tasks (featurise media, train, write back).

The tasks arrive with the workers issue; they call into :mod:`mmkg.platform` and nothing here
holds engine logic.
"""
