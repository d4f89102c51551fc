"""Accounts, sign-in sessions and failed sign-ins, as the store keeps them.

The rules (password policy, hashing, lockout thresholds, who may change a role) are in
:mod:`cohesion.innovations.accounts`; these functions only read and write, in the
caller's transaction. A session is kept by the SHA-256 of its token, never the token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cohesion.errors import ConflictError, NotFoundError
from cohesion.innovations.store.models import AccountRow, SessionRow, ThrottleRow, iso


@dataclass(frozen=True)
class Account:
    """Someone who signs in to the Carrefour.

    Attributes
    ----------
    id : int
    email : str
        Normalised (lower case), unique.
    display_name : str
        The name shown beside contributions.
    role : str
        ``contributeur``, ``moderateur`` or ``administrateur``.
    created : str
        ISO 8601 UTC instant.
    """

    id: int
    email: str
    display_name: str
    role: str
    created: str


def _account(row: AccountRow) -> Account:
    return Account(row.id, row.email, row.display_name, row.role, iso(row.created))


def _row(session: Session, account_id: int) -> AccountRow:
    row = session.get(AccountRow, account_id)
    if row is None:
        raise NotFoundError(f"aucun compte numéro {account_id}")
    return row


def add_account(session: Session, email: str, display_name: str, password_hash: str,
                role: str, now: datetime) -> Account:
    """Create an account (``email`` already normalised, password already hashed).

    Raises
    ------
    ConflictError
        When an account has that address already.
    """
    row = AccountRow(email=email, display_name=display_name, password_hash=password_hash,
                     role=role, created=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as error:
        raise ConflictError(f"un compte existe déjà pour l'adresse {email}") from error
    return _account(row)


def account(session: Session, account_id: int) -> Account:
    """The account ``account_id``.

    Raises
    ------
    NotFoundError
        When there is none.
    """
    return _account(_row(session, account_id))


def accounts(session: Session) -> list[Account]:
    """Every account, by address."""
    return [_account(row) for row in session.scalars(select(AccountRow)
                                                     .order_by(AccountRow.email))]


def credentials(session: Session, email: str) -> tuple[Account, str] | None:
    """The account of ``email`` (normalised) and its password hash; None if unknown."""
    row = session.scalars(select(AccountRow).where(AccountRow.email == email)).first()
    return None if row is None else (_account(row), row.password_hash)


def count_role(session: Session, role: str) -> int:
    """How many accounts have ``role``."""
    return session.scalar(select(func.count()).select_from(AccountRow)
                          .where(AccountRow.role == role)) or 0


def set_role(session: Session, account_id: int, role: str) -> Account:
    """Give account ``account_id`` the role ``role``."""
    row = _row(session, account_id)
    row.role = role
    session.flush()
    return _account(row)


def set_password_hash(session: Session, account_id: int, password_hash: str) -> None:
    """Replace the password hash of ``account_id`` (a rehash with newer parameters)."""
    _row(session, account_id).password_hash = password_hash


# -- failed sign-ins ---------------------------------------------------------------


def locked_until(session: Session, keys: Iterable[str], now: datetime) -> datetime | None:
    """Until when sign-ins are refused for any of ``keys``; None when none is locked."""
    return session.scalar(select(func.max(ThrottleRow.locked_until))
                          .where(ThrottleRow.key.in_(list(keys)),
                                 ThrottleRow.locked_until > now))


def count_failure(session: Session, key: str, now: datetime, limit: int, window: timedelta,
                  lockout: timedelta) -> datetime | None:
    """Count a failed sign-in for ``key``; lock it when ``limit`` failures fall in ``window``.

    Returns
    -------
    datetime or None
        The end of the lockout this failure started, if it started one.
    """
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(module.insert(ThrottleRow)
                    .values(key=key, failures=0, window_start=now, locked_until=None)
                    .on_conflict_do_nothing())
    row = session.scalars(select(ThrottleRow).where(ThrottleRow.key == key)
                          .with_for_update()
                          .execution_options(populate_existing=True)).one()
    if row.window_start <= now - window:
        row.failures, row.window_start = 0, now
    row.failures += 1
    if row.failures < limit:
        return None
    row.failures, row.window_start, row.locked_until = 0, now, now + lockout
    return row.locked_until


def clear_failures(session: Session, key: str) -> None:
    """Forget the failed sign-ins of ``key`` (after a successful one)."""
    row = session.get(ThrottleRow, key)
    if row is not None:
        session.delete(row)


# -- sessions ----------------------------------------------------------------------


def add_session(session: Session, token_hash: str, account_id: int, now: datetime,
                expires: datetime) -> None:
    """Keep a new sign-in session, known by the hash of its token."""
    session.add(SessionRow(token_hash=token_hash, account_id=account_id, created=now,
                           expires=expires))


def session_account(session: Session, token_hash: str, now: datetime) -> Account | None:
    """The account of a live session (neither expired nor revoked); None otherwise."""
    row = session.scalars(
        select(AccountRow).join(SessionRow, SessionRow.account_id == AccountRow.id)
        .where(SessionRow.token_hash == token_hash, SessionRow.revoked.is_(None),
               SessionRow.expires > now)).first()
    return None if row is None else _account(row)


def revoke_sessions(session: Session, now: datetime, *, token_hash: str | None = None,
                    account_id: int | None = None) -> int:
    """Revoke the session of ``token_hash``, or every session of ``account_id``.

    Returns
    -------
    int
        The number of live sessions revoked.
    """
    if (token_hash is None) == (account_id is None):
        raise ValueError("revoke_sessions: give token_hash or account_id, not both")
    column, value = ((SessionRow.token_hash, token_hash) if token_hash is not None
                     else (SessionRow.account_id, account_id))
    return session.execute(
        update(SessionRow).where(column == value, SessionRow.revoked.is_(None),
                                 SessionRow.expires > now)
        .values(revoked=now)).rowcount
