"""What the Carrefour's web tests share besides their fixtures (``carrefour_app`` and
``new_browser`` in conftest.py): the form token, new addresses and signing up."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

PASSWORD = "une phrase de passe assez longue"
TOKEN = re.compile(r'name="csrf" value="([0-9a-f]{64})"')

_emails = itertools.count(1)


def new_email(prefix: str = "contributeur") -> str:
    """An address no other test of the session has used."""
    return f"{prefix}{next(_emails)}@exemple.fr"


def token(client: TestClient, url: str) -> str:
    """The form token of the page at ``url`` (the browser cookie is set on the way)."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    return TOKEN.search(page.text).group(1)


def signed_up(browser: Callable[[], TestClient], email: str | None = None,
              display_name: str = "Camille Contributrice") -> TestClient:
    """A new browser with a new account, signed in."""
    client = browser()
    answer = client.post("/innovations/inscription", data={
        "csrf": token(client, "/innovations/inscription"), "email": email or new_email(),
        "display_name": display_name, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client
