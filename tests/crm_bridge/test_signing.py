"""The receiver's verification recipe accepts exactly what the sender signs, within 300 s."""

from __future__ import annotations

import hashlib
import hmac
import time

from crm_bridge.signing import sign, verify_signature

BODY = '{"id":"e1","data":{"tag":"高意向"}}'.encode()


def test_a_signed_body_verifies() -> None:
    ts = str(int(time.time()))
    assert verify_signature("k", ts, BODY, sign("k", ts, BODY))


def test_signature_is_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("k", "1700000000", BODY) == f"sha256={expected}"


def test_tampered_body_wrong_secret_or_bare_hex_fail() -> None:
    ts = str(int(time.time()))
    signature = sign("k", ts, BODY)
    assert not verify_signature("k", ts, BODY + b" ", signature)
    assert not verify_signature("other", ts, BODY, signature)
    assert not verify_signature("k", ts, BODY, signature.removeprefix("sha256="))
    assert not verify_signature("k", str(int(ts) + 1), BODY, signature)


def test_timestamps_outside_the_tolerance_are_rejected() -> None:
    now = 1_700_000_000.0
    for offset, ok in ((-300, True), (300, True), (-301, False), (301, False)):
        ts = str(int(now) + offset)
        assert verify_signature("k", ts, BODY, sign("k", ts, BODY), now=now) is ok, offset


def test_malformed_timestamps_and_signatures_are_rejected() -> None:
    assert not verify_signature("k", "", BODY, sign("k", "", BODY))
    assert not verify_signature("k", "12a", BODY, sign("k", "12a", BODY), now=12)
    assert not verify_signature("k", "١٢", BODY, "sha256=00", now=12)  # non-ASCII digits
    assert not verify_signature("k", "12", BODY, "sha256=签名", now=12)
