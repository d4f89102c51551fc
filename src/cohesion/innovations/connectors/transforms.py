r"""Small transforms of a connector's field mapping, and the cleaning every value gets.

Every text a source gives goes first through :func:`html_to_text`: HTML is turned into
plain text with `nh3` (the tags are dropped, a ``<script>`` or ``<style>`` with its
content), character references are decoded, paragraphs kept. Then the field's
transforms run, in the order the connector lists them, on a whole column at once:

``split`` (separators, default ``,;``)
    Text → list of its non-empty parts (a list: each element split, flattened).
``join`` (separator, default a space)
    List → text.
``first``
    List → its first non-empty element (a field read from several source fields takes
    the first one given).
``first_sentence``
    Text → its first sentence of at least :data:`SENTENCE_MIN` characters, cut at
    :data:`SUMMARY_LENGTH`.
``shorten`` (width)
    Text → at most ``width`` characters, cut between words, ``…`` marking the cut.
``replace`` (a mapping of texts to their replacement)
    Text → the text with each one replaced (a source's quirk: GoGoCarto's exports write
    ``http\c//`` for ``http://``).
``date`` (``strptime`` format, optional)
    Text → ISO 8601 date (``2024-05-31``) or UTC instant; without a format, ISO 8601,
    RFC 822 (feeds) and ``31/05/2024`` are read.

Examples
--------
>>> values = pd.Series(["Jardins, AMAP ;paniers", None, ["a,b", "c"]])
>>> TRANSFORMS["split"].bind(None)(values).tolist()
[['Jardins', 'AMAP', 'paniers'], None, ['a', 'b', 'c']]
>>> TRANSFORMS["date"].bind(None)(pd.Series(["Fri, 31 May 2024 08:00:00 +0200",
...                                          "31/05/2024", "hier"])).tolist()
['2024-05-31T06:00:00Z', '2024-05-31', None]
"""

from __future__ import annotations

import email.utils
import html
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nh3
import pandas as pd

#: Longest summary (the contract of :class:`~cohesion.innovations.records.Record`).
SUMMARY_LENGTH = 300
#: Shortest first sentence: « Association. » says nothing, the next sentence is kept too.
SENTENCE_MIN = 30

#: Tags whose end starts a new line in the text (so that words do not stick together).
_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(p|div|li|h[1-6]|tr|blockquote|section|article)>")
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")
_MARKUP = re.compile(r"[<&]")
#: Something a browser would read as a tag.
_TAG = re.compile(r"<[a-zA-Z!/?]")
#: Rounds of decoding and cleaning: HTML escaped once or twice more is still cleaned.
_CLEANING_ROUNDS = 4


def html_to_text(value: str) -> str:
    r"""Plain text of a text that may hold HTML; paragraphs kept, lines trimmed.

    Markup escaped once or twice more (``&lt;script&gt;``) is decoded and cleaned again,
    so that no tag comes out as text.

    Examples
    --------
    >>> html_to_text("<p>Café&nbsp;<b>solidaire</b></p><script>alert(1)</script>Lyon")
    'Café solidaire\nLyon'
    >>> html_to_text("1 < 2 &amp; 3 > 2")
    '1 < 2 & 3 > 2'
    >>> html_to_text("&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;")
    ''
    """
    if not _MARKUP.search(value) and "\n" not in value and "\r" not in value:
        return " ".join(value.split())
    for _ in range(_CLEANING_ROUNDS):
        if not _MARKUP.search(value):
            break
        cleaned = html.unescape(nh3.clean(_BLOCK_END.sub("\n", value), tags=set()))
        if cleaned == value:
            break
        value = cleaned
    if _TAG.search(value):  # escaped more times than the rounds: left escaped, inert
        value = nh3.clean(value, tags=set())
    lines = (" ".join(line.split()) for line in value.replace("\r", "\n").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def one_line(value: str) -> str:
    r"""``value`` on one line, spaces collapsed.

    Examples
    --------
    >>> one_line("Tous jardiniers\n\nJardin  Lou Calen ")
    'Tous jardiniers Jardin Lou Calen'
    """
    return " ".join(value.split())


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (at least :data:`SENTENCE_MIN` characters), shortened.

    Examples
    --------
    >>> first_sentence("Association. Elle répare des vélos à Lyon. Venez !")
    'Association. Elle répare des vélos à Lyon.'
    """
    paragraph = one_line(text.strip().split("\n\n")[0])
    end = _SENTENCE_END.search(paragraph, min(SENTENCE_MIN, len(paragraph)))
    sentence = paragraph[:end.end()] if end else paragraph
    return shorten(sentence, SUMMARY_LENGTH)


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut between words to at most ``width`` characters.

    Examples
    --------
    >>> shorten("Rénovation de la salle des fêtes communale", 25)
    'Rénovation de la salle …'
    """
    return textwrap.shorten(text, width, placeholder=" …", break_long_words=True)


def parse_date(text: str, fmt: str | None = None) -> str | None:
    """An ISO 8601 date, or UTC instant when the text has a time; None if unreadable."""
    text = text.strip()
    found: datetime | None = None
    if fmt is not None:
        try:
            found = datetime.strptime(text, fmt)
        except ValueError:
            return None
    elif re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
        day, month, year = (int(part) for part in text.split("/"))
        try:
            found = datetime(year, month, day)
        except ValueError:
            return None
    else:
        try:
            found = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                found = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError):
                return None
    if found.tzinfo is None and (found.hour, found.minute, found.second) == (0, 0, 0):
        return found.date().isoformat()
    if found.tzinfo is not None:
        found = found.astimezone(UTC).replace(tzinfo=None)
    return found.isoformat(timespec="seconds") + "Z"


# -- transforms -----------------------------------------------------------------------

def _each_text(values: pd.Series, function: Callable[[str], Any]) -> pd.Series:
    """``function`` applied to the text values (lists and None left as they are)."""
    return values.map(lambda v: function(v) if isinstance(v, str) else v)


def _split(values: pd.Series, separators: str) -> pd.Series:
    pattern = re.compile("[" + re.escape(separators) + "]")

    def parts(value: Any) -> list[str] | None:
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        found = [part.strip() for item in items if isinstance(item, str)
                 for part in pattern.split(item)]
        return [part for part in found if part]

    return values.map(parts)


def _join(values: pd.Series, separator: str) -> pd.Series:
    return values.map(lambda v: separator.join(str(x) for x in v if x not in (None, ""))
                      if isinstance(v, list) else v)


def _first(values: pd.Series, _: None) -> pd.Series:
    return values.map(lambda v: next((x for x in v if x not in (None, "")), None)
                      if isinstance(v, list) else v)


def _replace(values: pd.Series, replacements: dict[str, str]) -> pd.Series:
    def replaced(text: str) -> str:
        for old, new in replacements.items():
            text = text.replace(old, new)
        return text

    return _each_text(values, replaced)


def _replacements(argument: Any) -> dict[str, str]:
    if not isinstance(argument, dict) or not argument or not all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in argument.items()):
        raise ValueError("attendu un dictionnaire {texte: remplacement}")
    return argument


def _text_argument(default: str) -> Callable[[Any], str]:
    def check(argument: Any) -> str:
        if argument is None:
            return default
        if not isinstance(argument, str) or not argument:
            raise ValueError("attendu un texte non vide")
        return argument
    return check


def _no_argument(argument: Any) -> None:
    if argument is not None:
        raise ValueError("cette transformation ne prend pas d'argument")


def _width(argument: Any) -> int:
    if isinstance(argument, bool) or not isinstance(argument, int) or argument < 10:
        raise ValueError("attendu une largeur entière d'au moins 10 caractères")
    return argument


def _format(argument: Any) -> str | None:
    if argument is not None and (not isinstance(argument, str) or "%" not in argument):
        raise ValueError("attendu un format strptime comme '%d/%m/%Y'")
    return argument


@dataclass(frozen=True)
class Transform:
    """A transform bound to its argument, applied to a column of values."""

    name: str
    argument: Any
    function: Callable[[pd.Series, Any], pd.Series]

    def __call__(self, values: pd.Series) -> pd.Series:
        return self.function(values, self.argument)


@dataclass(frozen=True)
class TransformKind:
    """A transform a connector may name, and the check of its argument."""

    name: str
    function: Callable[[pd.Series, Any], pd.Series]
    check: Callable[[Any], Any]

    def bind(self, argument: Any) -> Transform:
        """The transform with its argument checked (ValueError, in French, if invalid)."""
        return Transform(self.name, self.check(argument), self.function)


#: The transforms, by name.
TRANSFORMS: dict[str, TransformKind] = {kind.name: kind for kind in (
    TransformKind("split", _split, _text_argument(",;")),
    TransformKind("join", _join, _text_argument(" ")),
    TransformKind("first", _first, _no_argument),
    TransformKind("first_sentence", lambda v, _: _each_text(v, first_sentence), _no_argument),
    TransformKind("shorten", lambda v, width: _each_text(v, lambda t: shorten(t, width)),
                  _width),
    TransformKind("replace", _replace, _replacements),
    TransformKind("date", lambda v, fmt: _each_text(v, lambda t: parse_date(t, fmt)), _format),
)}
