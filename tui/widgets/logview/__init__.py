"""The live log pane, one job per module (``tui.widgets.log_view`` re-exports the widgets):

- ``view``: :class:`LogView`, the line-API ``ScrollView`` (state, styles, public API);
- ``ingest``: events in, queued, parsed into the buffer in time-boxed slices, drawn in frames;
- ``follow``: follow / pause, what counts as the operator scrolling, the scrollbar;
- ``rows``: which record goes on which screen row, and each row's cells;
- ``labels``: the host/source column, full or compact;
- ``filters``: level / host cycling and the status line's words;
- ``actions``: the pane's keys; ``saving``: the view or the buffer to a file;
- ``pane``: :class:`LogPane`, the view with its status line and pattern prompt.
"""
