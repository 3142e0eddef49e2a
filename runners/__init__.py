"""Async I/O and engines; no Textual. Front-ends consume their events."""
