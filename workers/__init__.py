"""Celery adapters: the app, the base task class, the tasks and the beat schedule.

Only this package imports Celery; the logic lives in :mod:`metasync`.
"""

__all__: list[str] = []
