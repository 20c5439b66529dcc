"""Sub-commands of the ``metasync`` command line, one module per group."""

__all__: list[str] = []
