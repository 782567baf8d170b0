"""Engine output made safe for a web page: terminal escape codes removed."""

from __future__ import annotations

import re

# CSI sequences (colours, cursor moves), OSC sequences (titles, links) and
# two-byte escapes: what `pulumi preview` writes when it thinks it has a terminal.
_ANSI_ESCAPE = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)
    | \x1b[@-Z\\-_]
    """,
    re.VERBOSE,
)
# Pulumi's own colour tags, left in the text when it runs with color=raw.
_PULUMI_COLOR_TAG = re.compile(r"<\{%[^%]*%\}>")
# Other control characters would show as boxes or break the Markdown; keep tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def strip_ansi(text: str) -> str:
    """The text without escape codes, colour tags or control characters; CRLF becomes LF."""
    text = _ANSI_ESCAPE.sub("", text)
    text = _PULUMI_COLOR_TAG.sub("", text)
    return _CONTROL.sub("", text.replace("\r\n", "\n"))
