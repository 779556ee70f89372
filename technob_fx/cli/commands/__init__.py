"""CLI subcommands of ``technob``: one module per command, each with ``register(subparsers)``."""
