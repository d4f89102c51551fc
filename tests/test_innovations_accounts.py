"""Accounts of the Carrefour: argon2 hashes, lockout, sessions, roles; on both backends."""

# the fixtures of test_innovations_store are imported, then named as parameters
# ruff: noqa: F811

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from cohesion.errors import CohesionError, ConflictError, ErrorKind
from cohesion.innovations.accounts import (
    MAX_FAILURES_PER_ACCOUNT,
    MAX_FAILURES_PER_CLIENT,
    REFUSED,
    AccountLockedError,
    Accounts,
    AuthenticationError,
    PermissionDeniedError,
    create_first_administrator,
    hash_token,
    normalise_email,
)
from cohesion.innovations.store import CarrefourStore
from cohesion.innovations.store.models import AccountRow, SessionRow
from test_innovations_store import Clock, clock, hasher, store, store_url  # noqa: F401

PASSWORD = "correct cheval pile agrafe"


@pytest.fixture
def accounts(store: CarrefourStore, hasher: PasswordHasher, clock: Clock) -> Accounts:
    return Accounts(store, hasher)


def stored_hash(store: CarrefourStore, email: str) -> str:
    with store.transaction() as session:
        return session.scalars(select(AccountRow.password_hash)
                               .where(AccountRow.email == email)).one()


def test_accounts_are_created_with_an_argon2_hash(accounts: Accounts,
                                                  store: CarrefourStore) -> None:
    account = accounts.create("  Camille.Martin@Exemple.FR ", "Camille Martin", PASSWORD)
    assert (account.email, account.display_name, account.role) == (
        "camille.martin@exemple.fr", "Camille Martin", "contributeur")
    hashed = stored_hash(store, account.email)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert accounts.authenticate("CAMILLE.martin@exemple.fr", PASSWORD) == account
    [entry] = store.audit_trail(target=f"compte:{account.id}")
    assert (entry.action, entry.actor_id) == ("creer_compte", account.id)
    with pytest.raises(ConflictError, match="existe déjà"):
        accounts.create("camille.martin@exemple.fr", "Autre", PASSWORD)


@pytest.mark.parametrize(("email", "name", "password", "message"), [
    ("camille@exemple.fr", "Camille", "court", "trop court : 12 caractères au moins"),
    ("camille@exemple.fr", "Camille", "camille@exemple.fr", "reprendre l'adresse"),
    ("camille@exemple.fr", "Camille", "a" * 14, "un seul caractère"),
    ("camille@exemple.fr", "Camille", "x" * 300 + "y", "trop long"),
    ("camille.exemple.fr", "Camille", PASSWORD, "adresse électronique invalide"),
    ("camille@exemple", "Camille", PASSWORD, "adresse électronique invalide"),
    ("<script>@exemple.fr", "Camille", PASSWORD, "adresse électronique invalide"),
    ("camille@exemple.fr", "<b>Camille</b>", PASSWORD, "ni < ni >"),
    ("camille@exemple.fr", "C", PASSWORD, "de 2 à 100 caractères"),
])
def test_bad_accounts_are_refused_clearly(accounts: Accounts, email: str, name: str,
                                          password: str, message: str) -> None:
    with pytest.raises(CohesionError, match=message):
        accounts.create(email, name, password)


def test_emails_are_normalised() -> None:
    punycode = "mairie-évry".encode("punycode").decode("ascii")
    assert normalise_email(" Jean@Mairie-Évry.FR") == f"jean@xn--{punycode}.fr"


def test_a_wrong_password_is_refused_without_saying_which_part(accounts: Accounts) -> None:
    accounts.create("camille@exemple.fr", "Camille", PASSWORD)
    for email, password in (("camille@exemple.fr", "mauvais mot de passe"),
                            ("inconnu@exemple.fr", PASSWORD), ("pas une adresse", PASSWORD)):
        with pytest.raises(AuthenticationError) as refused:
            accounts.authenticate(email, password)
        assert str(refused.value) == REFUSED
        assert refused.value.kind is ErrorKind.UNAUTHENTICATED


def test_ten_wrong_passwords_lock_the_account_for_fifteen_minutes(
        accounts: Accounts, clock: Clock) -> None:
    account = accounts.create("camille@exemple.fr", "Camille", PASSWORD)
    for _ in range(MAX_FAILURES_PER_ACCOUNT - 1):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(account.email, "mauvais mot de passe", client="192.0.2.1")
    with pytest.raises(AccountLockedError, match="réessayez dans 15 minutes") as locked:
        accounts.authenticate(account.email, "mauvais mot de passe", client="192.0.2.1")
    assert locked.value.kind is ErrorKind.TOO_MANY
    assert locked.value.retry_after > 14 * 60
    # the right password, from another address, is refused too while locked
    clock.advance(minutes=5)
    with pytest.raises(AccountLockedError, match="réessayez dans 10 minutes"):
        accounts.authenticate(account.email, PASSWORD, client="198.51.100.9")
    clock.advance(minutes=10, seconds=1)
    assert accounts.authenticate(account.email, PASSWORD, client="192.0.2.1") == account


def test_failures_are_counted_per_account_within_the_window(accounts: Accounts,
                                                            clock: Clock) -> None:
    account = accounts.create("camille@exemple.fr", "Camille", PASSWORD)
    for _ in range(MAX_FAILURES_PER_ACCOUNT - 1):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(account.email, "mauvais mot de passe")
    clock.advance(minutes=16)  # the window passed: counting starts again
    with pytest.raises(AuthenticationError):
        accounts.authenticate(account.email, "mauvais mot de passe")
    # a success clears the account's failures
    assert accounts.authenticate(account.email, PASSWORD) == account


def test_one_client_address_cannot_try_many_accounts(accounts: Accounts) -> None:
    victim = accounts.create("victime@exemple.fr", "Victime", PASSWORD)
    for attempt in range(MAX_FAILURES_PER_CLIENT):
        with pytest.raises((AuthenticationError, AccountLockedError)):
            accounts.authenticate(f"essai{attempt}@exemple.fr", PASSWORD, client="203.0.113.5")
    with pytest.raises(AccountLockedError):
        accounts.authenticate(victim.email, PASSWORD, client="203.0.113.5")
    assert accounts.authenticate(victim.email, PASSWORD, client="192.0.2.1") == victim


def test_hashes_are_renewed_when_the_parameters_change(store: CarrefourStore,
                                                       hasher: PasswordHasher) -> None:
    Accounts(store, hasher).create("camille@exemple.fr", "Camille", PASSWORD)
    old = stored_hash(store, "camille@exemple.fr")
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    Accounts(store, stronger).authenticate("camille@exemple.fr", PASSWORD)
    new = stored_hash(store, "camille@exemple.fr")
    assert new != old and "m=2048,t=2,p=1" in new
    assert not stronger.check_needs_rehash(new)


def test_sessions_keep_only_a_hash_expire_and_are_revoked(
        accounts: Accounts, store: CarrefourStore, clock: Clock) -> None:
    account = accounts.create("camille@exemple.fr", "Camille", PASSWORD)
    token = accounts.open_session(account)
    other = accounts.open_session(account)
    assert len(token) >= 40 and token != other
    with store.transaction() as session:
        kept = set(session.scalars(select(SessionRow.token_hash)))
    assert kept == {hash_token(token), hash_token(other)} and token not in kept
    assert accounts.session_account(token) == account
    assert accounts.session_account("jeton-inventé") is None
    assert accounts.session_account(None) is None

    assert accounts.close_session(token) is True
    assert accounts.session_account(token) is None
    assert accounts.close_session(token) is False
    clock.advance(days=7, seconds=1)
    assert accounts.session_account(other) is None
    fresh = accounts.open_session(account)
    assert accounts.close_sessions(account) == 1
    assert accounts.session_account(fresh) is None


def test_roles_change_only_by_an_administrator_and_are_audited(
        accounts: Accounts, store: CarrefourStore, hasher: PasswordHasher) -> None:
    admin = create_first_administrator(store, "admin@exemple.fr", "Admin", PASSWORD, hasher)
    assert admin.role == "administrateur"
    with pytest.raises(ConflictError, match="un administrateur existe déjà"):
        create_first_administrator(store, "autre@exemple.fr", "Autre", PASSWORD, hasher)
    camille = accounts.create("camille@exemple.fr", "Camille", PASSWORD)
    dominique = accounts.create("dominique@exemple.fr", "Dominique", PASSWORD)
    with pytest.raises(PermissionDeniedError, match="réservé aux comptes administrateur"):
        accounts.set_role(camille, dominique.id, "moderateur")
    with pytest.raises(PermissionDeniedError, match="seul un administrateur"):
        accounts.create("eve@exemple.fr", "Ève", PASSWORD, role="moderateur")

    moderator = accounts.set_role(admin, camille.id, "moderateur")
    assert moderator.role == "moderateur"
    assert accounts.session_account(accounts.open_session(camille)).role == "moderateur"
    # a moderator is no administrator
    with pytest.raises(PermissionDeniedError):
        accounts.set_role(moderator, dominique.id, "moderateur")
    with pytest.raises(ConflictError, match="dernier compte administrateur"):
        accounts.set_role(admin, admin.id, "contributeur")
    with pytest.raises(CohesionError, match="rôle inconnu « chef »"):
        accounts.set_role(admin, dominique.id, "chef")

    trail = store.audit_trail(target=f"compte:{camille.id}")
    assert (trail[0].action, trail[0].actor_id, trail[0].details) == (
        "changer_role", admin.id, {"avant": "contributeur", "après": "moderateur"})
    [created] = store.audit_trail(target=f"compte:{admin.id}")
    assert (created.action, created.actor_id) == ("creer_administrateur", None)
    assert [a.email for a in accounts.accounts(admin)] == [
        "admin@exemple.fr", "camille@exemple.fr", "dominique@exemple.fr"]
