"""Text from a manifest made safe to show: invisible characters written as escapes.

A name or value may hold what a reader cannot see but a screen obeys: a newline (a line
of its own in a log, where `::error ::` is a GitHub Actions command), ESC sequences (the
terminal's title, colours, clipboard), bidi overrides (`web\\u202egnp.exe` reads
"webexe.png"), zero-width marks, NUL. Each is shown as its \\u escape instead.
"""

from __future__ import annotations

import re

_NOT_PLAIN = re.compile(r"[^\x20-\x7e]")  # the rare text that needs a closer look
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})  # controls, format (bidi, zero-width), separators


def visible(text: str, keep: str = "\t") -> str:
    """`text` with each invisible character but those in `keep` as its \\u escape."""
    if _NOT_PLAIN.search(text) is None:
        return text
    import unicodedata  # only for the rare text that is not plain ASCII

    return "".join(
        (f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
        if c not in keep and unicodedata.category(c) in _INVISIBLE
        else c
        for c in text
    )
