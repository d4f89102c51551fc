"""Normalisation of French place names for search (accents, case, punctuation)."""

from __future__ import annotations

import re
import unicodedata

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_SAINT = re.compile(r"\b(st|ste)\b")


def search_key(name: str) -> str:
    """Return the accent-, case- and punctuation-insensitive form of a place name.

    ``Saint``/``Sainte`` and their abbreviations ``St``/``Ste`` compare equal, and
    hyphens, apostrophes and spaces are all one separator.

    Examples
    --------
    >>> search_key("Clichy-sous-Bois")
    'clichy sous bois'
    >>> search_key("ST-ÉTIENNE") == search_key("Saint-Étienne")
    True
    >>> search_key("L'Haÿ-les-Roses")
    'l hay les roses'
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = _NOT_ALNUM.sub(" ", text).strip()
    return _SAINT.sub(lambda match: "saint" if match[1] == "st" else "sainte", text)
