"""A checkbox and a selection list whose ticks are a shape, not only a colour.

Textual draws both with the same "X" on and off, told apart by colour alone: in the
monochrome and colour-blind themes, or on a projector at a stand-up, ticked and unticked
look alike. These draw "✔" when on and a blank when off, in every theme."""

from __future__ import annotations

from typing import Generic

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList
from textual.widgets.option_list import OptionDoesNotExist
from textual.widgets.selection_list import SelectionType

ON, OFF = "✔", " "


class MarkedCheckbox(Checkbox):
    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = ON if self.value else OFF  # read by ToggleButton._button
        return super()._button


class MarkedSelectionList(SelectionList[SelectionType], Generic[SelectionType]):
    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return strip
        segments = list(strip)
        if len(segments) < 2:
            return strip
        inner = segments[1]  # [left, inner, right, " ", prompt...]: see SelectionList.render_line
        mark = ON if selection.value in self._selected else OFF
        segments[1] = Segment(mark, inner.style, inner.control)
        return Strip(segments, strip.cell_length)
