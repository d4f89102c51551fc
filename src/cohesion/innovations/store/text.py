"""Plain text only: what users type is stored without markup, within known lengths.

Pages escape what they show, but the store does not rely on it: any HTML in a text a
user sends is removed before it is kept (tags dropped, the content of ``<script>`` and
``<style>`` with them, by nh3), entities are decoded back to characters, control
characters dropped. Text encoded several times over (``&amp;lt;script&amp;gt;``) is
cleaned again until nothing changes.

Examples
--------
>>> plain_text("<p>Épicerie <b>solidaire</b></p><script>alert(1)</script>")
'Épicerie solidaire'
>>> plain_text("Tom & Jerry < 3")
'Tom & Jerry < 3'
>>> plain_text("&lt;script&gt;alert(1)&lt;/script&gt;Jardin")
'Jardin'
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

import nh3

from cohesion.errors import CohesionError

#: Passes of cleaning before text that keeps changing is refused.
MAX_PASSES = 8
#: Markup may make a text longer than its limit before cleaning, but not this many
#: times longer: beyond, it is refused unread (an oversized post).
RAW_SLACK = 4
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(text: str) -> str:
    """``text`` without markup or control characters, NFC-normalised, stripped.

    Raises
    ------
    CohesionError
        When the text is nested in encodings deeper than :data:`MAX_PASSES`.
    """
    cleaned = _CONTROL.sub("", unicodedata.normalize("NFC", text)).replace("\r\n", "\n")
    for _ in range(MAX_PASSES):
        stripped = html.unescape(nh3.clean(cleaned, tags=set()))
        if stripped == cleaned:
            return cleaned.strip()
        cleaned = stripped
    raise CohesionError("texte illisible : balises encodées trop de fois")


def bounded_text(value: object, label: str, max_length: int, min_length: int = 0) -> str:
    """``value`` as plain text of ``min_length`` to ``max_length`` characters.

    Parameters
    ----------
    value : object
        What the form sent (None reads as empty).
    label : str
        The field's name in French, for the message.
    max_length, min_length : int

    Raises
    ------
    CohesionError
        When ``value`` is not text, or too long or too short once cleaned.

    Examples
    --------
    >>> bounded_text("  Jardin partagé ", "titre", 200, 3)
    'Jardin partagé'
    >>> bounded_text("ab", "titre", 200, 3)
    Traceback (most recent call last):
    ...
    cohesion.errors.CohesionError: titre : 3 caractères au moins (2 reçus)
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise CohesionError(f"{label} : texte attendu, reçu {type(value).__name__}")
    cleaned = plain_text(value) if len(value) <= RAW_SLACK * max_length else value
    if len(cleaned) > max_length:
        raise CohesionError(f"{label} : {max_length} caractères au plus "
                            f"({len(cleaned)} reçus)")
    if len(cleaned) < min_length:
        raise CohesionError(f"{label} : {min_length} caractères au moins "
                            f"({len(cleaned)} reçus)")
    return cleaned


def web_address(value: object, label: str = "site web", max_length: int = 500) -> str | None:
    """``value`` as an ``http(s)://`` address; None when empty.

    Raises
    ------
    CohesionError
        For any other scheme (``javascript:``, ``data:``…) or an address without host.

    Examples
    --------
    >>> web_address(" https://example.org/projet?a=1&b=2 ")
    'https://example.org/projet?a=1&b=2'
    >>> web_address("javascript:alert(1)")
    Traceback (most recent call last):
    ...
    cohesion.errors.CohesionError: site web : adresse en http:// ou https:// attendue ...
    """
    text = bounded_text(value, label, max_length)
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname \
            or any(character.isspace() for character in text):
        raise CohesionError(f"{label} : adresse en http:// ou https:// attendue "
                            f"(reçu « {text[:80]} »)")
    return text
