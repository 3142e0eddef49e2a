"""Widgets of the console. Each module holds one widget (or one family of helpers)."""
