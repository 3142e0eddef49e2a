"""Subcommand modules of ``dryrun``, in the order ``--help`` lists them.

Add a module here with a ``register(subparsers)`` function to add a subcommand."""

COMMAND_MODULES: tuple[str, ...] = (
    "init",
    "console",
    "demo",
    "serve",
    "sim",
    "run",
    "plan",
    "env",
    "triage",
    "fix",
    "verify",
    "flake",
    "metrics",
    "closeout",
    "pack",
    "say",
    "suite",
    "stress",
)
