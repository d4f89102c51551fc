"""The audit trail: every moderation and administration action, who, when, on what.

An entry is written in the same transaction as the action it records, so the trail
never misses an action that happened nor shows one that did not. Targets are named
``fiche:<id>``, ``compte:<id>``, ``proposition:<id>`` or ``paire:<a>|<b>``.

Examples
--------
>>> ACTIONS["publier"]
'publication'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cohesion.innovations.store.models import AuditRow, iso

#: The actions the trail records, with their French label.
ACTIONS = {
    "creer_compte": "création de compte",
    "creer_administrateur": "création du premier administrateur",
    "changer_role": "changement de rôle",
    "soumettre": "contribution déposée",
    "publier": "publication",
    "refuser": "refus",
    "proposer": "proposition de modification",
    "accepter_proposition": "proposition acceptée",
    "refuser_proposition": "proposition refusée",
    "signaler": "signalement",
    "masquer": "masquage après signalements",
    "retablir": "rétablissement",
    "retirer": "retrait",
    "decider_paire": "décision sur une paire de doublons",
}


@dataclass(frozen=True)
class AuditEntry:
    """One action of the trail.

    Attributes
    ----------
    id : int
    at : str
        ISO 8601 UTC instant.
    actor_id : int or None
        The account that acted; None when the system did (a hiding after reports, the
        command line creating the first administrator).
    action : str
        One of :data:`ACTIONS`.
    target : str
        What was acted on (``fiche:…``, ``compte:…``…).
    details : dict
        What changed, the reason given.
    """

    id: int
    at: str
    actor_id: int | None
    action: str
    target: str
    details: dict[str, Any]

    @property
    def label(self) -> str:
        """The action in words."""
        return ACTIONS[self.action]


def write_audit(session: Session, actor_id: int | None, action: str, target: str,
                details: dict[str, Any], now: datetime) -> None:
    """Add an entry to the trail, in the caller's transaction.

    Raises
    ------
    ValueError
        When ``action`` is not one of :data:`ACTIONS` (a programming error).
    """
    if action not in ACTIONS:
        raise ValueError(f"action d'audit inconnue {action!r}")
    session.add(AuditRow(at=now, actor_id=actor_id, action=action, target=target,
                         details=details))


def audit_trail(session: Session, target: str | None = None, actor_id: int | None = None,
                limit: int = 100) -> list[AuditEntry]:
    """The newest entries of the trail, newest first, of one target or actor if given."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if target is not None:
        query = query.where(AuditRow.target == target)
    if actor_id is not None:
        query = query.where(AuditRow.actor_id == actor_id)
    return [AuditEntry(row.id, iso(row.at), row.actor_id, row.action, row.target,
                       dict(row.details)) for row in session.scalars(query)]
