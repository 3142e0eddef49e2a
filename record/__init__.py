"""The dry-run record: dry_run/ files, register, ledger, metrics, gates, evidence. No Textual, no network."""
