"""The id_token check: only RS256 tokens from the provider's own keys, for this hub, in date."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from devlab.identity.id_token import IdTokenError, UnknownKeyError, verify_id_token

ISSUER = "https://cilogon.example"
CLIENT = "devlab-hub"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private_key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    key = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    return {**key, "kid": kid, "alg": "RS256", "use": "sig"}


JWKS = {"keys": [jwk(KEY, "k1")]}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "http://cilogon.org/serverA/users/1",
        "iat": now,
        "exp": now + 900,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, Any], key: Any = KEY, kid: str | None = "k1", **kwargs: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(payload, key, algorithm=kwargs.pop("algorithm", "RS256"), headers=headers)


def verify(token: str, **kwargs: Any) -> dict[str, Any]:
    return verify_id_token(
        token, kwargs.pop("jwks", JWKS), issuer=ISSUER, audience=CLIENT, **kwargs
    )


def refusal(token: str, **kwargs: Any) -> str:
    with pytest.raises(IdTokenError) as refused:
        verify(token, **kwargs)
    return str(refused.value)


def test_a_good_token_gives_its_claims():
    assert verify(signed(claims(email="a@b.c")))["email"] == "a@b.c"


def test_an_audience_list_holding_the_client_id_is_accepted():
    assert verify(signed(claims(aud=["other", CLIENT])))["sub"]


def test_expired():
    past = int(time.time()) - 3600
    assert "expired" in refusal(signed(claims(iat=past - 900, exp=past)))


def test_leeway_tolerates_clock_skew():
    just_now = int(time.time()) - 5
    token = signed(claims(iat=just_now - 900, exp=just_now))
    assert verify(token, leeway=60)["sub"]


def test_wrong_audience():
    assert "client id 'devlab-hub'" in refusal(signed(claims(aud="someone-else")))


def test_wrong_issuer_names_both():
    message = refusal(signed(claims(iss="https://evil.example")))
    assert "https://evil.example" in message
    assert ISSUER in message


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub"])
def test_each_required_claim(claim):
    assert f"`{claim}`" in refusal(signed(claims(**{claim: None})))


def test_unknown_kid_is_its_own_error_so_the_caller_can_refetch_keys():
    with pytest.raises(UnknownKeyError, match=r"'k9'.*holds 'k1'"):
        verify(signed(claims(), kid="k9"))


def test_no_kid():
    assert "no `kid`" in refusal(signed(claims(), kid=None))


def test_signed_by_another_key():
    assert "signature" in refusal(signed(claims(), key=OTHER_KEY))


def test_a_tampered_payload_fails_the_signature():
    header, _, signature = signed(claims(sub="alice")).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(sub="mallory")).encode()).rstrip(b"=")
    assert "signature" in refusal(f"{header}.{forged.decode()}.{signature}")


def test_alg_none_is_refused():
    token = jwt.encode(claims(), None, algorithm="none", headers={"kid": "k1"})
    assert "'none'" in refusal(token)


def test_hs256_with_the_public_key_as_secret_is_refused():
    public_pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode()
    ).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    mac = hmac.new(public_pem, header + b"." + payload, hashlib.sha256).digest()
    token = b".".join([header, payload, base64.urlsafe_b64encode(mac).rstrip(b"=")]).decode()
    assert "'HS256'" in refusal(token)


def test_a_symmetric_key_in_the_jwks_never_verifies():
    secret = base64.urlsafe_b64encode(b"s" * 32).rstrip(b"=").decode()
    jwks = {"keys": [{"kty": "oct", "k": secret, "kid": "k1"}]}
    assert "not an RSA key" in refusal(signed(claims()), jwks=jwks)


def test_an_empty_jwks():
    assert "no usable key" in refusal(signed(claims()), jwks={"keys": []})


def test_not_a_jwt():
    assert "not a JWT" in refusal("not-a-token")


def test_nonce_must_match_when_given():
    token = signed(claims(nonce="n-1"))
    assert verify(token, nonce="n-1")["nonce"] == "n-1"
    assert "nonce" in refusal(token, nonce="n-2")
    assert "nonce" in refusal(signed(claims()), nonce="n-1")
