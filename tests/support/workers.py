"""Worker processes and the sender app, for the end-to-end tests."""

from metasync.embedded import Workers
from workers.client import sender_app as client_app

__all__ = ["Workers", "client_app"]
