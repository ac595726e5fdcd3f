"""Sign-in is throttled per username and address: ten wrong passwords lock that username from
that address (the right password included) with a message saying when to try again; other
usernames and addresses are unaffected; the lock ends by itself. Wrong API tokens likewise."""

import time

import pytest
from django.test import Client

from tests.api.conftest import token_client

HOME = "10.0.0.1"
ELSEWHERE = "10.0.0.2"


def sign_in(username: str, password: str, address: str = HOME):
    return Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": username, "password": password}
    )


def fail(username: str, times: int, address: str = HOME):
    return [sign_in(username, f"wrong-{i}", address).status_code for i in range(times)]


def test_ten_wrong_passwords_lock_that_username_from_that_address(alice):
    assert fail("alice", 9) == [200] * 9  # the form again, with its error
    tenth = sign_in("alice", "wrong-again")
    assert tenth.status_code == 429
    locked = sign_in("alice", "pw-alice")  # the right password does not help now
    assert locked.status_code == 429
    text = locked.content.decode()
    assert (
        "Too many failed sign-ins for this username from your address; try again in 15 minutes, after"
        in text
    )
    assert 14 * 60 < int(locked["Retry-After"]) <= 15 * 60


def test_other_users_and_addresses_are_unaffected(alice, bob):
    fail("alice", 10)
    assert sign_in("alice", "pw-alice").status_code == 429
    assert sign_in("bob", "pw-bob").status_code == 302
    assert sign_in("alice", "pw-alice", ELSEWHERE).status_code == 302


def test_the_lock_ends_by_itself(alice, settings):
    fail("alice", 10)
    assert sign_in("alice", "pw-alice").status_code == 429
    # Rather than wait 15 minutes: a lock of half a second, and a second's wait.
    settings.CONFLICTWATCH_SIGNIN_LOCK_MINUTES = 0.5 / 60
    time.sleep(1)
    assert sign_in("alice", "pw-alice").status_code == 302


def test_a_good_sign_in_clears_earlier_failures(alice):
    fail("alice", 9)
    assert sign_in("alice", "pw-alice").status_code == 302
    assert fail("alice", 9) == [200] * 9


def test_the_address_behind_trusted_proxies_is_the_one_they_saw(alice, settings):
    settings.CONFLICTWATCH_PROXY_COUNT = 1

    def via_proxy(client_address, password):
        return Client(
            REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"6.6.6.6, {client_address}"
        ).post("/accounts/login/", {"username": "alice", "password": password})

    for i in range(10):
        via_proxy("203.0.113.9", f"wrong-{i}")
    assert via_proxy("203.0.113.9", "pw-alice").status_code == 429
    # Another client behind the same proxy (and the same forged first entry) signs in.
    assert via_proxy("198.51.100.7", "pw-alice").status_code == 302


def test_wrong_api_tokens_lock_token_calls_from_that_address(alice):
    good = token_client(alice)
    good.defaults["REMOTE_ADDR"] = HOME
    bad = Client(REMOTE_ADDR=HOME, HTTP_AUTHORIZATION="Token " + "0" * 40)
    answers = [bad.get("/api/v1/projects/").status_code for _ in range(10)]
    assert answers == [401] * 9 + [429]
    locked = good.get("/api/v1/projects/")
    assert locked.status_code == 429
    assert locked.json()["error"].startswith(
        "too many wrong API tokens from your address; try again in 15 minutes"
    )
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    elsewhere = Client(
        REMOTE_ADDR=ELSEWHERE, HTTP_AUTHORIZATION=good.defaults["HTTP_AUTHORIZATION"]
    )
    assert elsewhere.get("/api/v1/projects/").status_code == 200


@pytest.mark.parametrize("username", ["", "x" * 151])
def test_a_sign_in_without_a_valid_username_is_just_refused(db, username):
    assert sign_in(username, "whatever").status_code == 200
