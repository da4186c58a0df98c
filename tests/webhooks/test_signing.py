"""The shared signing module against XTND's documented algorithm: HMAC-SHA256 over the exact raw body bytes, key
= the hook's secret as UTF-8, header ``ms-signature: sha256=<64 UPPERCASE hex>``."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_xtnd.webhooks.signing import SIGNATURE_HEADER, sign, signature_hex, verify

BODY = b'{"Id":"x"}'
# Worked out once, independently: `printf '{"Id":"x"}' | openssl dgst -sha256 -hmac secret`, uppercased.
PINNED = "sha256=D5122581DDCA5506B209C3445AEB90812436BE87DB39DD61CCA95419C1BC68BF"
# RFC 4231 test case 2 (key "Jefe"): a published HMAC-SHA256 vector, uppercased.
RFC4231_DATA = b"what do ya want for nothing?"
RFC4231 = "sha256=5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843"


def by_hand(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest().upper()


def test_header_name_is_ms_signature() -> None:
    assert SIGNATURE_HEADER == "ms-signature"


def test_sign_matches_the_pinned_hand_computed_signature() -> None:
    assert by_hand("secret", BODY) == PINNED
    assert sign("secret", BODY) == PINNED
    assert signature_hex("secret", BODY) == PINNED.removeprefix("sha256=")


def test_sign_matches_the_rfc4231_vector() -> None:
    assert sign("Jefe", RFC4231_DATA) == RFC4231


def test_secret_is_keyed_as_utf8() -> None:
    secret = "nyckel-åäö-€"
    assert sign(secret, BODY) == by_hand(secret, BODY)
    assert sign(secret, BODY) != "sha256=" + hmac.new(secret.encode("latin-1", "replace"), BODY,
                                                      hashlib.sha256).hexdigest().upper()


def test_verify_accepts_the_hand_computed_signature() -> None:
    assert verify("secret", BODY, PINNED)


def test_verify_accepts_lowercase_hex() -> None:
    assert verify("secret", BODY, "sha256=" + PINNED.removeprefix("sha256=").lower())


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        pytest.param("Secret", BODY, PINNED, id="wrong-secret"),
        pytest.param("secret", b'{"Id":"y"}', PINNED, id="one-flipped-byte-in-body"),
        pytest.param("secret", BODY + b" ", PINNED, id="body-with-trailing-space"),
        pytest.param("secret", BODY, None, id="missing-header"),
        pytest.param("secret", BODY, "", id="empty-header"),
        pytest.param("secret", BODY, PINNED.removeprefix("sha256="), id="missing-prefix"),
        pytest.param("secret", BODY, "sha1=" + PINNED.removeprefix("sha256="), id="wrong-prefix"),
        pytest.param("secret", BODY, PINNED[:-1], id="truncated-hex"),
        pytest.param("secret", BODY, PINNED[:-1] + ("0" if PINNED[-1] != "0" else "1"), id="flipped-hex-digit"),
        pytest.param("secret", BODY, PINNED + "00", id="extra-hex"),
    ],
)
def test_verify_rejects(secret: str, body: bytes, header: str | None) -> None:
    assert not verify(secret, body, header)


def test_verify_rejects_every_single_bit_flip_of_the_body() -> None:
    for i in range(len(BODY)):
        for bit in range(8):
            flipped = bytearray(BODY)
            flipped[i] ^= 1 << bit
            assert not verify("secret", bytes(flipped), PINNED), (i, bit)


@given(secret=st.text(min_size=1), body=st.binary())
def test_sign_then_verify_round_trips(secret: str, body: bytes) -> None:
    header = sign(secret, body)
    assert header == by_hand(secret, body)
    assert header.startswith("sha256=")
    hexpart = header.removeprefix("sha256=")
    assert len(hexpart) == 64 and hexpart == hexpart.upper()
    assert verify(secret, body, header)
    assert not verify(secret + "x", body, header)
    assert not verify(secret, body + b"\x00", header)
