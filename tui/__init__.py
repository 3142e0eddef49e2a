"""The console's front-ends: the CLI entry (``tui.cli``) and the Textual app.

Importing this package must stay cheap: Textual is imported only by the modules that
draw, so headless subcommands start fast."""
