"""The live log pane: every host's logs merged by time, followed or paused, filtered,
searched; a line-API ``ScrollView`` over :class:`runners.logs.buffer.LogBuffer`.

Why a line-API widget and not ``Log``: a flood must never freeze the UI. Incoming
lines only go into a queue (``ingest``: O(1), no drawing). A timer drains it
``flush_hz`` times a second (DESIGN.md: ~0.5-0.75 ms fixed cost per UI write, so a
fixed number of flushes, never one per line), each drain time-boxed so one flush
cannot stall the loop; only the rows on screen are ever rendered (``render_line``),
whatever the buffer holds. Memory is bounded by the buffer's cap.

Keys (each Binding has an id and a description, as everywhere in the console):
f follow/pause · / search · n/N next/previous match · e/E next/previous error ·
m "now" marker · w wrap · l level filter · h host filter · i/x include/exclude regex ·
c clear filters · s save view · S save whole buffer (to dry_run/artifacts/logs/).

Each line is labelled with its host and source: ``cam-28/camera-service`` when there is
room, compact on a narrow pane (``cam-28/cam``, or the host alone when every host has
one source; the status line says what the tags stand for).

The code lives in ``tui.widgets.logview`` (one module per job, listed in its
docstring); this module is where callers import the widgets from.
"""

from __future__ import annotations

from tui.widgets.logview.filters import LEVEL_CYCLE
from tui.widgets.logview.ingest import CHUNK
from tui.widgets.logview.pane import LogPane
from tui.widgets.logview.rows import HOST_PALETTE
from tui.widgets.logview.view import LogView

__all__ = ["CHUNK", "HOST_PALETTE", "LEVEL_CYCLE", "LogPane", "LogView"]
