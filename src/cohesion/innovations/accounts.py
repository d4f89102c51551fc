"""Accounts of the Carrefour: roles, passwords, sign-in, sessions.

Three roles, each with the rights of the one before: ``contributeur`` (submits
projects, proposes edits, reports records), ``moderateur`` (publishes, refuses, reviews
reports and duplicate pairs) and ``administrateur`` (changes roles). Anyone may create a
contributor account; only an administrator gives another role, and the change is in
the audit trail. The first administrator is created from the command line
(:func:`create_first_administrator`).

Passwords are hashed with argon2id (argon2-cffi's :class:`~argon2.PasswordHasher`) and
rehashed at the next sign-in when the hasher's parameters change. Ten wrong passwords
within a quarter of an hour lock the account for a quarter of an hour; the failures of
a client address are counted too, over every account, so that one address cannot try
passwords on many accounts (:data:`MAX_FAILURES_PER_ACCOUNT`,
:data:`MAX_FAILURES_PER_CLIENT`, :data:`LOCKOUT`).

A session is a random token (:mod:`secrets`) the browser keeps in a cookie; the store
keeps only its SHA-256, with its expiry.

Examples
--------
How the web signs someone in and recognises them at the next requests:

>>> from cohesion.innovations.store import CarrefourStore
>>> store = CarrefourStore("sqlite://")
>>> store.migrate()
>>> accounts = Accounts(store)
>>> _ = accounts.create("Camille@Exemple.fr", "Camille", "une phrase de passe")
>>> account = accounts.authenticate("camille@exemple.fr", "une phrase de passe",
...                                 client="192.0.2.7")
>>> token = accounts.open_session(account)      # the session cookie's value
>>> accounts.session_account(token).email       # at each request
'camille@exemple.fr'
>>> accounts.close_session(token)               # signing out
True
>>> accounts.session_account(token) is None
True
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from cohesion.errors import (
    AuthenticationError,
    CohesionError,
    ConflictError,
    PermissionDeniedError,
    RateLimitedError,
)
from cohesion.innovations.store import Account, CarrefourStore, people
from cohesion.innovations.store.audit import write_audit

#: The roles, each with the rights of the ones before it.
ROLES = ("contributeur", "moderateur", "administrateur")
#: The roles in words.
ROLE_LABELS = {"contributeur": "contributeur", "moderateur": "modérateur",
               "administrateur": "administrateur"}
#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 12
#: Longest password accepted (hashing a huge one would tie up the server).
MAX_PASSWORD_LENGTH = 256
#: Longest display name.
DISPLAY_NAME_LENGTH = 100
#: Wrong passwords for one account within :data:`FAILURE_WINDOW` that lock it.
MAX_FAILURES_PER_ACCOUNT = 10
#: Failed sign-ins from one client address, over all accounts, that lock the address.
MAX_FAILURES_PER_CLIENT = 30
#: The span over which failures are counted.
FAILURE_WINDOW = timedelta(minutes=15)
#: How long a lock lasts.
LOCKOUT = timedelta(minutes=15)
#: How long a session lasts.
SESSION_LIFETIME = timedelta(days=7)
#: Random bytes of a session token.
TOKEN_BYTES = 32
#: The same answer for an unknown address and a wrong password (no account probing).
REFUSED = "adresse électronique ou mot de passe incorrect"

_LOCAL_PART = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}")
_DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}")


class AccountLockedError(RateLimitedError):
    """Sign-ins refused for a while after too many failures.

    Attributes
    ----------
    until : datetime
        When sign-ins are accepted again.
    """

    def __init__(self, until: datetime, now: datetime) -> None:
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        super().__init__(f"trop de tentatives de connexion infructueuses : connexion "
                         f"bloquée, réessayez dans {minutes} minute{'s' if minutes > 1 else ''}",
                         retry_after=max(1, math.ceil((until - now).total_seconds())))
        self.until = until


def normalise_email(email: str) -> str:
    """``email`` checked and lower-cased, its domain in ASCII (IDNA).

    Raises
    ------
    CohesionError
        When it is not an address ``nom@domaine.tld``.

    Examples
    --------
    >>> normalise_email("  Camille.Martin@Exemple.FR ")
    'camille.martin@exemple.fr'
    >>> normalise_email("élu@mairie-évry.fr")
    Traceback (most recent call last):
    ...
    cohesion.errors.CohesionError: adresse électronique invalide « élu@mairie-évry.fr » : ...
    """
    text = unicodedata.normalize("NFC", str(email)).strip()
    local, at, domain = text.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        domain = ""
    if not at or not _LOCAL_PART.fullmatch(local) or not _DOMAIN.fullmatch(domain) \
            or ".." in local or len(local) + len(domain) + 1 > 254:
        raise CohesionError(f"adresse électronique invalide « {text[:100]} » : attendu "
                            "nom@domaine.fr (sans accent avant l'arobase)")
    return f"{local.lower()}@{domain}"


def check_password(password: str, email: str | None = None) -> None:
    """Refuse a password that is too short, too long, the address, or one repeated character.

    Raises
    ------
    CohesionError
        Saying what is wrong.

    Examples
    --------
    >>> check_password("court")
    Traceback (most recent call last):
    ...
    cohesion.errors.CohesionError: mot de passe trop court : 12 caractères au moins (5 reçus)
    >>> check_password("une phrase de passe facile à retenir")
    """
    if not isinstance(password, str):
        raise CohesionError("mot de passe attendu")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CohesionError(f"mot de passe trop court : {MIN_PASSWORD_LENGTH} caractères au "
                            f"moins ({len(password)} reçus)")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise CohesionError(f"mot de passe trop long : {MAX_PASSWORD_LENGTH} caractères au "
                            "plus")
    if email and password.strip().lower() in (email, email.partition("@")[0]):
        raise CohesionError("le mot de passe ne doit pas reprendre l'adresse électronique")
    if len(set(password)) == 1:
        raise CohesionError("le mot de passe ne doit pas répéter un seul caractère")


def check_display_name(name: str) -> str:
    """The display name, stripped: 2 to 100 characters, without markup characters.

    Raises
    ------
    CohesionError
        When it is too short, too long, or holds ``<``, ``>`` or control characters.
    """
    text = unicodedata.normalize("NFC", str(name)).strip()
    if not 2 <= len(text) <= DISPLAY_NAME_LENGTH:
        raise CohesionError(f"nom affiché : de 2 à {DISPLAY_NAME_LENGTH} caractères "
                            f"({len(text)} reçus)")
    if any(character in "<>" or not character.isprintable() for character in text):
        raise CohesionError("nom affiché : ni < ni > ni caractère de contrôle")
    return text


def hash_token(token: str) -> str:
    """The SHA-256 of a session token, as the store keeps it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def has_role(account: Account, role: str) -> bool:
    """Whether ``account``'s role gives the rights of ``role``.

    Examples
    --------
    >>> admin = Account(1, "a@exemple.fr", "Alex", "administrateur", "")
    >>> has_role(admin, "moderateur"), has_role(admin, "administrateur")
    (True, True)
    """
    return ROLES.index(account.role) >= ROLES.index(role)


def require_role(session: Session, account: Account, role: str, action: str) -> Account:
    """The account as stored now, if its role allows ``action``.

    The role is read again in the transaction: a role withdrawn a second ago counts.

    Raises
    ------
    PermissionDeniedError
        When the account's role is below ``role``.
    """
    current = people.account(session, account.id)
    if not has_role(current, role):
        raise PermissionDeniedError(f"{action} : réservé aux comptes {ROLE_LABELS[role]} "
                                    f"(votre rôle : {ROLE_LABELS[current.role]})")
    return current


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise CohesionError(f"rôle inconnu « {role} » (attendu : {', '.join(ROLES)})")


class Accounts:
    """Create accounts, sign in, keep sessions, change roles, on one store.

    Parameters
    ----------
    store : CarrefourStore
    hasher : PasswordHasher, optional
        argon2id with argon2-cffi's defaults (tests pass cheaper parameters).
    clock : callable, optional
        The current aware UTC instant; the store's clock by default.
    """

    def __init__(self, store: CarrefourStore, hasher: PasswordHasher | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.hasher = hasher or PasswordHasher()
        self.clock = clock or store.clock
        self._decoy: str | None = None

    # -- accounts -----------------------------------------------------------------

    def create(self, email: str, display_name: str, password: str,
               role: str = "contributeur", by: Account | None = None) -> Account:
        """Create an account; a role above ``contributeur`` only ``by`` an administrator.

        Raises
        ------
        CohesionError
            An invalid address, name or password, or an unknown role.
        ConflictError
            An address already used.
        PermissionDeniedError
            Another role than ``contributeur`` without an administrator.
        """
        _check_role(role)
        address = normalise_email(email)
        name = check_display_name(display_name)
        check_password(password, address)
        hashed = self.hasher.hash(password)
        now = self.clock()
        with self.store.transaction() as session:
            if role != "contributeur":
                if by is None:
                    raise PermissionDeniedError(f"seul un administrateur peut créer un compte "
                                                f"{ROLE_LABELS[role]}")
                require_role(session, by, "administrateur", "créer un compte de ce rôle")
            account = people.add_account(session, address, name, hashed, role, now)
            write_audit(session, by.id if by else account.id, "creer_compte",
                        f"compte:{account.id}", {"role": role}, now)
        return account

    def account(self, account_id: int) -> Account:
        """The account ``account_id`` (:class:`~cohesion.errors.NotFoundError` if none)."""
        with self.store.transaction() as session:
            return people.account(session, account_id)

    def accounts(self, administrator: Account) -> list[Account]:
        """Every account, for an administrator."""
        with self.store.transaction() as session:
            require_role(session, administrator, "administrateur", "lister les comptes")
            return people.accounts(session)

    def set_role(self, administrator: Account, account_id: int, role: str) -> Account:
        """Give account ``account_id`` the role ``role``; audit-logged.

        Raises
        ------
        PermissionDeniedError
            When ``administrator`` is not one.
        ConflictError
            When it would leave the Carrefour without an administrator.
        """
        _check_role(role)
        now = self.clock()
        with self.store.transaction() as session:
            require_role(session, administrator, "administrateur", "changer un rôle")
            target = people.account(session, account_id)
            if target.role == role:
                return target
            if target.role == "administrateur" \
                    and people.count_role(session, "administrateur") <= 1:
                raise ConflictError("c'est le dernier compte administrateur : nommer d'abord "
                                    "un autre administrateur")
            changed = people.set_role(session, account_id, role)
            write_audit(session, administrator.id, "changer_role", f"compte:{account_id}",
                        {"avant": target.role, "après": role}, now)
        return changed

    # -- signing in ---------------------------------------------------------------

    def _throttle_keys(self, account: Account | None, client: str | None) -> list[str]:
        keys = [f"compte:{account.id}"] if account else []
        return keys + ([f"client:{client}"] if client else [])

    def _count_failure(self, keys: list[str], now: datetime) -> datetime | None:
        limits = {"compte": MAX_FAILURES_PER_ACCOUNT, "client": MAX_FAILURES_PER_CLIENT}
        with self.store.transaction() as session:
            ends = [people.count_failure(session, key, now, limits[key.partition(":")[0]],
                                         FAILURE_WINDOW, LOCKOUT) for key in keys]
        return max((end for end in ends if end is not None), default=None)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def authenticate(self, email: str, password: str, client: str | None = None) -> Account:
        """The account of ``email`` if ``password`` is its password.

        Parameters
        ----------
        email, password : str
        client : str, optional
            The client's address (the web passes the request's), whose failures are
            counted too.

        Raises
        ------
        AuthenticationError
            Unknown address or wrong password (the same message for both).
        AccountLockedError
            Too many failures for the account or the client address lately: refused
            without checking the password, until the lock ends.
        """
        now = self.clock()
        try:
            address = normalise_email(email)
        except CohesionError:
            address = None
        with self.store.transaction() as session:
            found = people.credentials(session, address) if address else None
            keys = self._throttle_keys(found[0] if found else None, client)
            until = people.locked_until(session, keys, now)
        if until is not None:
            raise AccountLockedError(until, now)
        if found is None:
            # as long as a real check, so that timing does not tell which addresses exist
            if self._decoy is None:
                self._decoy = self.hasher.hash(secrets.token_hex(16))
            self._verify(self._decoy, str(password))
        if found is None or not self._verify(found[1], str(password)):
            locked = self._count_failure(keys, now)
            if locked is not None:
                raise AccountLockedError(locked, now)
            raise AuthenticationError(REFUSED)
        account, stored = found
        fresh = self.hasher.hash(password) if self.hasher.check_needs_rehash(stored) else None
        with self.store.transaction() as session:
            people.clear_failures(session, f"compte:{account.id}")
            if fresh is not None:
                people.set_password_hash(session, account.id, fresh)
        return account

    # -- sessions -----------------------------------------------------------------

    def open_session(self, account: Account, lifetime: timedelta = SESSION_LIFETIME) -> str:
        """A new session token for ``account`` (the value of the session cookie)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        with self.store.transaction() as session:
            people.add_session(session, hash_token(token), account.id, now, now + lifetime)
        return token

    def session_account(self, token: str | None) -> Account | None:
        """The account signed in with ``token``; None for no, an expired or revoked one."""
        if not token or len(token) > 4 * TOKEN_BYTES:
            return None
        with self.store.transaction() as session:
            return people.session_account(session, hash_token(token), self.clock())

    def close_session(self, token: str) -> bool:
        """Revoke the session of ``token`` (signing out); whether it was live."""
        with self.store.transaction() as session:
            return people.revoke_sessions(session, self.clock(),
                                          token_hash=hash_token(token)) > 0

    def close_sessions(self, account: Account) -> int:
        """Revoke every session of ``account`` (signing out everywhere); how many."""
        with self.store.transaction() as session:
            return people.revoke_sessions(session, self.clock(), account_id=account.id)


def create_first_administrator(store: CarrefourStore, email: str, display_name: str,
                               password: str, hasher: PasswordHasher | None = None
                               ) -> Account:
    """Create the Carrefour's first administrator (for the command line).

    Raises
    ------
    ConflictError
        When an administrator exists already (others are named by an administrator).
    """
    accounts = Accounts(store, hasher)
    address = normalise_email(email)
    name = check_display_name(display_name)
    check_password(password, address)
    hashed = accounts.hasher.hash(password)
    now = accounts.clock()
    with store.transaction() as session:
        if people.count_role(session, "administrateur"):
            raise ConflictError("un administrateur existe déjà : les suivants sont nommés "
                                "par un administrateur depuis l'interface")
        account = people.add_account(session, address, name, hashed, "administrateur", now)
        write_audit(session, None, "creer_administrateur", f"compte:{account.id}",
                    {"email": address}, now)
    return account
