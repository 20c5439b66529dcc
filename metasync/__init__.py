"""metasync: a MongoDB mirror of Meta ad accounts for many tenants.

The library: no Celery imports here (Celery lives in ``workers/``).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
