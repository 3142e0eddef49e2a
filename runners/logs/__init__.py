"""Live log tails of the camera hosts: sources (SSH file / journal / command, local
files), line parsing, a bounded merge buffer, and the hub that runs them all.

No Textual here: the TUI's log pane (``tui/widgets/log_view.py``) and the headless CLI
consume the ``LogLines`` / ``LogGap`` events the hub emits."""
