"""User text on a terminal: control characters shown escaped, and never read as rich markup.

Node names, topology names, message types, paths and error texts come from files and traces anyone may
have written. Printed as they are, an escape sequence in a node name retitles the window or moves the
cursor, and a bidi override reorders what follows it; read as rich markup, a topology named ``[/]``
crashes the command and one named ``[bold red]x`` restyles the line. Every piece of such text the CLI
prints to a terminal goes through one of the functions here:

* ``visible(value)``: the text with each control character written out (``\\x1b``, ``\\u202e``,
  ``\\n``), for plain lines (``trace events``) and ``markup=False`` prints;
* ``visible_markup(value)``: the same, escaped for a string that rich reads as markup
  (``f"[yellow]warning:[/] {visible_markup(name)}"``);
* ``visible_text(value, style)``: the same as a ``rich.text.Text``, which rich never reads as markup,
  for table cells.

Control characters are C0 (U+0000-U+001F, tab and newline included: one cell or one field is one
line), DEL, C1 (U+0080-U+009F) and the bidi embeddings, overrides and isolates (U+202A-U+202E,
U+2066-U+2069). A backslash stays as it is, so ordinary text prints unchanged. JSON output is left to
JSON, which escapes what it must.
"""

from __future__ import annotations

import re

from rich.markup import escape
from rich.style import Style
from rich.text import Text

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(value: object) -> str:
    """``str(value)`` with every control character written out as ``\\xNN``, ``\\uNNNN``, ``\\t``,
    ``\\n`` or ``\\r``: what a terminal shows, not what it obeys."""
    return CONTROL_CHARACTERS.sub(_escaped, str(value))


def visible_markup(value: object) -> str:
    """``visible(value)`` escaped for rich markup: it shows literally inside a markup string."""
    return escape(visible(value))


def visible_text(value: object, style: str | Style = "") -> Text:
    """``visible(value)`` as rich ``Text`` in ``style``: a table cell that rich never reads as markup."""
    return Text(visible(value), style=style)
