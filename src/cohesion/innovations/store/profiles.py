"""Profiles of accompagnants and porteurs (:class:`~cohesion.innovations.matching.Profile`).

Their free texts are kept as plain text (:func:`~cohesion.innovations.store.text.plain_text`),
whoever sends them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cohesion.errors import NotFoundError
from cohesion.innovations.matching import Profile
from cohesion.innovations.store.models import ProfileRow
from cohesion.innovations.store.text import bounded_text, web_address

#: Longest name, description, domaine and address of a profile.
NAME_LENGTH, DESCRIPTION_LENGTH, DOMAINE_LENGTH, URL_LENGTH = 200, 5000, 100, 500


def _profile(row: ProfileRow) -> Profile:
    return Profile(row.name, tuple(row.territories), row.kind, tuple(row.domaines),
                   tuple(row.supports), row.description, row.url, row.account_id, row.id)


def _cleaned(profile: Profile) -> Profile:
    return replace(
        profile, name=bounded_text(profile.name, "nom du profil", NAME_LENGTH, 2),
        description=bounded_text(profile.description, "description du profil",
                                 DESCRIPTION_LENGTH),
        domaines=tuple(bounded_text(domaine, "domaine", DOMAINE_LENGTH, 1)
                       for domaine in profile.domaines),
        url=web_address(profile.url, max_length=URL_LENGTH))


def save_profile(session: Session, profile: Profile, now: datetime) -> Profile:
    """Create ``profile`` (no id) or replace the one with its id; return it as stored.

    Raises
    ------
    NotFoundError
        When ``profile.id`` names no profile.
    CohesionError
        When a text is too long or empty where required.
    """
    profile = _cleaned(profile)
    values = {"kind": profile.kind, "name": profile.name, "description": profile.description,
              "domaines": list(profile.domaines), "territories": list(profile.territories),
              "supports": list(profile.supports), "url": profile.url,
              "account_id": profile.account_id, "updated": now}
    if profile.id is None:
        row = ProfileRow(**values, created=now)
        session.add(row)
    else:
        found = session.get(ProfileRow, profile.id)
        if found is None:
            raise NotFoundError(f"aucun profil numéro {profile.id}")
        row = found
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()
    return _profile(row)


def profile(session: Session, profile_id: int) -> Profile:
    """The profile ``profile_id``.

    Raises
    ------
    NotFoundError
        When there is none.
    """
    row = session.get(ProfileRow, profile_id)
    if row is None:
        raise NotFoundError(f"aucun profil numéro {profile_id}")
    return _profile(row)


def profiles(session: Session, kind: str | None = None,
             account_id: int | None = None) -> list[Profile]:
    """The profiles of one kind and/or account if given, by name."""
    query = select(ProfileRow).order_by(ProfileRow.name, ProfileRow.id)
    if kind is not None:
        query = query.where(ProfileRow.kind == kind)
    if account_id is not None:
        query = query.where(ProfileRow.account_id == account_id)
    return [_profile(row) for row in session.scalars(query)]
