"""User text (log lines, templates, paths, session ids, messages that quote them) as Rich markup that prints as
exactly that text.

Why not ``rich.markup.escape`` alone: it escapes only brackets that look like tags (``[bold]``), while Rich's
renderer also drops a backslash before *any* bracket, so ``--set 'parser.log_format=\\[<Thread>\\] <Content>'``
printed as ``[<Thread>\\]``: a suggestion that no longer works when copied. The consoles print without emoji
codes (``emoji=False``), so ``:warning:`` in a log line stays text too.
"""

from __future__ import annotations

import re

from rich.markup import escape

# a run of backslashes before a bracket that rich's escape leaves alone (one that does not open what looks like a tag)
_BACKSLASHES_BEFORE_BRACKET = re.compile(r"(\\+)(?=\[(?![a-z#/@][^\[]*?\]))")


def shown(text: str) -> str:
    """Markup that Rich renders as ``text``, character for character (where no tag follows it directly).

    >>> from rich.markup import render
    >>> texts = [r"\\[<C>\\] x", "[bold]x[/]", "C:\\\\dir\\\\", r"a \\[x] b", "[1]", ":warning:"]
    >>> all(render(shown(t), emoji=False).plain == t for t in texts)
    True
    """
    # Rich turns every "\\[" of plain text into "[": one more backslash keeps the run whole. The "." is cut off
    # again: rich's escape doubles a trailing backslash (in case a tag follows), which would then print twice;
    # every caller puts user text last or before plain text
    return escape(_BACKSLASHES_BEFORE_BRACKET.sub(lambda m: m.group(1) + "\\", text) + ".")[:-1]
