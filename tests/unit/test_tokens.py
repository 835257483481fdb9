"""Access tokens, client assertions, client JWK sets and SMART scopes (app.security.tokens).

Every refusal test checks the specific reason, so that it fails if its rule is removed (a later
check would otherwise give a different reason, or the call would succeed).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.security.assertions import (
    generate_client_key,
    make_client_assertion,
    validate_client_jwks,
    verify_client_assertion,
)
from app.security.scopes import ADMIN_SCOPE, grant_scopes, parse_scopes, scope_allows
from app.security.tokens import SigningKey, TokenError, issue_access_token, verify_access_token

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://samverkan.example/"
AUDIENCE = "https://samverkan.example/"
ENDPOINT = "https://samverkan.example/auth/token"
CLIENT = "region-x-client"
SCOPES = frozenset({"system/CarePlan.rs", "system/Encounter.cruds"})


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def es_client() -> tuple[bytes, dict[str, Any]]:
    return generate_client_key("ES384")


@pytest.fixture(scope="module")
def rs_client() -> tuple[bytes, dict[str, Any]]:
    return generate_client_key("RS384")


def _issue(key: SigningKey, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "client_id": CLIENT,
        "organization_id": "org-1",
        "scopes": SCOPES,
        "audience": AUDIENCE,
        "issuer": ISSUER,
        "lifetime": timedelta(minutes=5),
        "now": NOW,
    }
    args.update(overrides)
    return issue_access_token(key, **args)


def _verify(key: SigningKey, token: str, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "audience": AUDIENCE,
        "issuer": ISSUER,
        "now": NOW,
        "max_lifetime": timedelta(hours=1),
    }
    args.update(overrides)
    return verify_access_token(key, token, **args)


def _refused(exc: pytest.ExceptionInfo[TokenError], reason: str, error: str) -> None:
    assert exc.value.reason == reason
    assert exc.value.error == error


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _pem(private: Any) -> bytes:
    return bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


# --- access tokens -------------------------------------------------------------------------------


def test_access_token_round_trip(key: SigningKey) -> None:
    token = _issue(key)
    claims = _verify(key, token, now=NOW + timedelta(minutes=4))
    assert claims.client_id == CLIENT
    assert claims.organization_id == "org-1"
    assert claims.scopes == SCOPES
    assert claims.expires_at == NOW + timedelta(minutes=5)
    assert claims.expires_at.tzinfo is not None
    assert len(claims.jti) == 32
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["scope"] == "system/CarePlan.rs system/Encounter.cruds"
    assert payload["sub"] == CLIENT and payload["org"] == "org-1"
    assert payload["iat"] == payload["nbf"] == int(NOW.timestamp())
    assert jwt.get_unverified_header(token)["kid"] == key.kid
    assert _verify(key, _issue(key)).jti != claims.jti


def test_expired_access_token_is_refused_after_leeway(key: SigningKey) -> None:
    token = _issue(key)
    # Within the 30 s leeway it still passes.
    _verify(key, token, now=NOW + timedelta(minutes=5, seconds=29))
    with pytest.raises(TokenError) as exc:
        _verify(key, token, now=NOW + timedelta(minutes=5, seconds=31))
    _refused(exc, "the access token has expired", "invalid_token")


def test_access_token_not_yet_valid(key: SigningKey) -> None:
    token = _issue(key, now=NOW + timedelta(minutes=2))
    with pytest.raises(TokenError) as exc:
        _verify(key, token)
    _refused(exc, "the access token is not valid yet", "invalid_token")


def test_access_token_for_another_audience(key: SigningKey) -> None:
    token = _issue(key, audience="https://other.example/")
    with pytest.raises(TokenError) as exc:
        _verify(key, token)
    _refused(exc, "the access token was issued for another audience", "invalid_token")


def test_access_token_from_another_issuer(key: SigningKey) -> None:
    with pytest.raises(TokenError) as exc:
        _verify(key, _issue(key, issuer="https://other.example/"))
    _refused(exc, "the access token was issued by another issuer", "invalid_token")


def test_access_token_signed_by_another_key(key: SigningKey) -> None:
    other = SigningKey.generate()
    assert other.kid != key.kid
    with pytest.raises(TokenError) as exc:
        _verify(key, _issue(other))
    _refused(
        exc, "the access token was not signed with this service's current key", "invalid_token"
    )


def test_access_token_with_our_kid_but_foreign_signature(key: SigningKey) -> None:
    other = SigningKey.generate()
    payload = jwt.decode(_issue(key), options={"verify_signature": False})
    forged = jwt.encode(
        payload, other.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "at+jwt"}
    )
    with pytest.raises(TokenError) as exc:
        _verify(key, forged)
    _refused(exc, "the access token's signature is not valid", "invalid_token")


def test_tampered_access_token_payload(key: SigningKey) -> None:
    token = _issue(key)
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["scope"] = "system/*.cruds"
    with pytest.raises(TokenError) as exc:
        _verify(key, f"{header}.{_b64(claims)}.{signature}")
    _refused(exc, "the access token's signature is not valid", "invalid_token")


def test_alg_none_and_hs256_access_tokens_are_refused(key: SigningKey) -> None:
    claims = jwt.decode(_issue(key), options={"verify_signature": False})
    headers = {"kid": key.kid, "typ": "at+jwt"}
    unsigned = f"{_b64({'alg': 'none', **headers})}.{_b64(claims)}."
    # HS256 keyed with the public key's PEM: the classic algorithm-confusion attack. PyJWT refuses
    # to sign that, so the MAC is computed here by hand.
    public_pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{_b64({'alg': 'HS256', **headers})}.{_b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    confused = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    for token in (unsigned, confused):
        with pytest.raises(TokenError) as exc:
            _verify(key, token)
        _refused(exc, "the access token is not signed with ES256", "invalid_token")


def test_access_token_of_wrong_type(key: SigningKey) -> None:
    claims = jwt.decode(_issue(key), options={"verify_signature": False})
    token = jwt.encode(
        claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "JWT"}
    )
    with pytest.raises(TokenError) as exc:
        _verify(key, token)
    _refused(exc, "the access token has the wrong type", "invalid_token")


@pytest.mark.parametrize("claim", ["sub", "org", "scope", "jti", "exp", "aud"])
def test_access_token_missing_claim_is_named(key: SigningKey, claim: str) -> None:
    claims = jwt.decode(_issue(key), options={"verify_signature": False})
    del claims[claim]
    token = jwt.encode(
        claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "at+jwt"}
    )
    with pytest.raises(TokenError) as exc:
        _verify(key, token)
    _refused(exc, f"the access token lacks the {claim} claim", "invalid_token")


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "....", "eyJhbGciOiJFUzI1NiJ9.x.y"])
def test_malformed_access_tokens(key: SigningKey, token: str) -> None:
    with pytest.raises(TokenError) as exc:
        _verify(key, token)
    assert exc.value.error == "invalid_token"
    assert token not in exc.value.reason or not token


def test_garbage_with_valid_header_is_malformed(key: SigningKey) -> None:
    header = _b64({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"})
    with pytest.raises(TokenError) as exc:
        _verify(key, f"{header}.!!!.???")
    _refused(exc, "the access token is malformed", "invalid_token")


def test_a_token_signed_with_our_key_is_refused_when_it_lives_too_long(key: SigningKey) -> None:
    # Exactly the maximum passes; a second more, or ten years, does not, signature or not.
    assert _verify(key, _issue(key, lifetime=timedelta(hours=1))).client_id == CLIENT
    for lifetime in (timedelta(hours=1, seconds=1), timedelta(days=3650)):
        with pytest.raises(TokenError) as exc:
            _verify(key, _issue(key, lifetime=lifetime))
        _refused(
            exc,
            "the access token lives longer than this service's maximum of 60 minutes",
            "invalid_token",
        )


def test_access_token_with_non_numeric_exp(key: SigningKey) -> None:
    claims = jwt.decode(_issue(key), options={"verify_signature": False})
    claims["exp"] = True
    token = jwt.encode(
        claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "at+jwt"}
    )
    with pytest.raises(TokenError) as exc:
        _verify(key, token)
    _refused(exc, "the access token's exp claim is not a number", "invalid_token")


def test_naive_now_is_a_programming_error(key: SigningKey) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _issue(key, now=datetime(2025, 3, 1, 12, 0))


# --- the signing key -----------------------------------------------------------------------------


def test_load_or_create_writes_0600_and_reloads_same_key(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "signing.pem"
    created = SigningKey.load_or_create(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    reloaded = SigningKey.load_or_create(path, create=False)
    assert reloaded.kid == created.kid
    # A token from the first instance verifies with the reloaded one.
    _verify(reloaded, _issue(created))
    # An existing file is never replaced.
    assert SigningKey.load_or_create(path, create=True).kid == created.kid


def test_load_or_create_without_create_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "missing.pem"
    with pytest.raises(FileNotFoundError, match="SAMVERKAN_SIGNING_KEY_FILE"):
        SigningKey.load_or_create(path, create=False)
    assert not path.exists()


def test_from_pem_refuses_other_keys(key: SigningKey) -> None:
    assert SigningKey.from_pem(key.to_pem()).kid == key.kid
    with pytest.raises(ValueError, match="P-256"):
        SigningKey.from_pem(_pem(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(ValueError, match="P-256"):
        SigningKey.from_pem(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    with pytest.raises(ValueError, match="PEM"):
        SigningKey.from_pem(b"not a key")


def test_public_jwks_and_kid_thumbprint(key: SigningKey) -> None:
    (jwk,) = key.public_jwks()["keys"]
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert jwk["kid"] == key.kid
    # RFC 7638 computed independently here.
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    assert key.kid == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    # The published JWK verifies our tokens.
    public = jwt.PyJWK(jwk).key
    jwt.decode(
        _issue(key),
        public,
        algorithms=["ES256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )


# --- client assertions ---------------------------------------------------------------------------


def _assertion(client: tuple[bytes, dict[str, Any]], **overrides: Any) -> str:
    pem, jwks = client
    jwk = jwks["keys"][0]
    args: dict[str, Any] = {
        "kid": jwk["kid"],
        "alg": jwk["alg"],
        "client_id": CLIENT,
        "token_endpoint": ENDPOINT,
        "now": NOW,
    }
    args.update(overrides)
    return make_client_assertion(pem, **args)


def _check(assertion: str, jwks: dict[str, Any], **overrides: Any) -> Any:
    args: dict[str, Any] = {"client_id": CLIENT, "token_endpoint": ENDPOINT, "now": NOW}
    args.update(overrides)
    return verify_client_assertion(assertion, jwks, **args)


def _sign(client: tuple[bytes, dict[str, Any]], claims: dict[str, Any], **headers: Any) -> str:
    pem, jwks = client
    jwk = jwks["keys"][0]
    private = serialization.load_pem_private_key(pem, password=None)
    all_headers = {"kid": jwk["kid"], **headers}
    alg = all_headers.pop("alg", jwk["alg"])
    return jwt.encode(claims, private, algorithm=alg, headers=all_headers)  # type: ignore[arg-type]


def _claims(**overrides: Any) -> dict[str, Any]:
    issued = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "iss": CLIENT,
        "sub": CLIENT,
        "aud": ENDPOINT,
        "exp": issued + 120,
        "iat": issued,
        "jti": "abc-123",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize("client_name", ["es_client", "rs_client"])
def test_client_assertion_happy_path(client_name: str, request: pytest.FixtureRequest) -> None:
    client = request.getfixturevalue(client_name)
    claims = _check(_assertion(client, jti="j-1"), client[1])
    assert claims.jti == "j-1"
    assert claims.expires_at == NOW + timedelta(minutes=2)
    # aud may also be a list containing the endpoint.
    listed = _sign(client, _claims(aud=["https://elsewhere/", ENDPOINT]))
    assert _check(listed, client[1]).jti == "abc-123"


def test_generated_client_keys_have_thumbprint_kids(
    es_client: tuple[bytes, dict[str, Any]], rs_client: tuple[bytes, dict[str, Any]]
) -> None:
    (es,) = es_client[1]["keys"]
    (rs,) = rs_client[1]["keys"]
    assert (es["kty"], es["crv"], es["alg"]) == ("EC", "P-384", "ES384")
    assert (rs["kty"], rs["alg"]) == ("RSA", "RS384")
    assert es["kid"] != rs["kid"] and len(es["kid"]) == 43
    assert validate_client_jwks(es_client[1]) == es_client[1]
    assert validate_client_jwks(rs_client[1]) == rs_client[1]
    with pytest.raises(ValueError):
        generate_client_key("RS256")


def test_client_assertion_wrong_alg_rs256(rs_client: tuple[bytes, dict[str, Any]]) -> None:
    assertion = _sign(rs_client, _claims(), alg="RS256")
    with pytest.raises(TokenError) as exc:
        _check(assertion, rs_client[1])
    _refused(exc, "the client assertion must be signed with RS384 or ES384", "invalid_client")


def test_client_assertion_alg_none(es_client: tuple[bytes, dict[str, Any]]) -> None:
    kid = es_client[1]["keys"][0]["kid"]
    assertion = f"{_b64({'alg': 'none', 'kid': kid})}.{_b64(_claims())}."
    with pytest.raises(TokenError) as exc:
        _check(assertion, es_client[1])
    _refused(exc, "the client assertion must be signed with RS384 or ES384", "invalid_client")


def test_client_assertion_missing_kid(es_client: tuple[bytes, dict[str, Any]]) -> None:
    pem, _ = es_client
    private = serialization.load_pem_private_key(pem, password=None)
    assertion = jwt.encode(_claims(), private, algorithm="ES384")  # type: ignore[arg-type]
    with pytest.raises(TokenError) as exc:
        _check(assertion, es_client[1])
    _refused(exc, "the client assertion header has no kid", "invalid_client")


def test_client_assertion_unknown_kid(es_client: tuple[bytes, dict[str, Any]]) -> None:
    with pytest.raises(TokenError) as exc:
        _check(_assertion(es_client, kid="nope"), es_client[1])
    _refused(
        exc,
        "no registered key of this client has the kid in the assertion header",
        "invalid_client",
    )


def test_client_assertion_alg_does_not_fit_key_type(
    es_client: tuple[bytes, dict[str, Any]], rs_client: tuple[bytes, dict[str, Any]]
) -> None:
    # RSA-signed, but pointing at the EC key's kid.
    jwks = {"keys": [*es_client[1]["keys"], *rs_client[1]["keys"]]}
    assertion = _assertion(rs_client, kid=es_client[1]["keys"][0]["kid"])
    with pytest.raises(TokenError) as exc:
        _check(assertion, jwks)
    _refused(
        exc, "the registered key with this kid cannot verify RS384 signatures", "invalid_client"
    )


def test_client_assertion_iss_is_not_the_client(es_client: tuple[bytes, dict[str, Any]]) -> None:
    with pytest.raises(TokenError) as exc:
        _check(_assertion(es_client, client_id="someone-else"), es_client[1])
    _refused(exc, "the client assertion's iss must be the client_id", "invalid_client")


def test_client_assertion_sub_is_not_the_client(es_client: tuple[bytes, dict[str, Any]]) -> None:
    with pytest.raises(TokenError) as exc:
        _check(_sign(es_client, _claims(sub="someone-else")), es_client[1])
    _refused(exc, "the client assertion's sub must be the client_id", "invalid_client")


def test_client_assertion_wrong_audience(es_client: tuple[bytes, dict[str, Any]]) -> None:
    assertion = _assertion(es_client, token_endpoint="https://other.example/auth/token")
    with pytest.raises(TokenError) as exc:
        _check(assertion, es_client[1])
    _refused(exc, "the client assertion's aud must be the token endpoint URL", "invalid_client")


def test_client_assertion_lifetime_over_five_minutes(
    es_client: tuple[bytes, dict[str, Any]],
) -> None:
    _check(_assertion(es_client, lifetime=timedelta(minutes=5)), es_client[1])
    with pytest.raises(TokenError) as exc:
        _check(_assertion(es_client, lifetime=timedelta(minutes=5, seconds=1)), es_client[1])
    _refused(exc, "exp is more than 5 minutes in the future", "invalid_client")


def test_client_assertion_expired(es_client: tuple[bytes, dict[str, Any]]) -> None:
    assertion = _assertion(es_client, now=NOW - timedelta(minutes=3))  # exp = NOW - 1 min
    with pytest.raises(TokenError) as exc:
        _check(assertion, es_client[1])
    _refused(exc, "the client assertion has expired", "invalid_client")


@pytest.mark.parametrize("claim", ["jti", "exp", "iss", "sub", "aud"])
def test_client_assertion_missing_claim(
    es_client: tuple[bytes, dict[str, Any]], claim: str
) -> None:
    claims = _claims()
    del claims[claim]
    with pytest.raises(TokenError) as exc:
        _check(_sign(es_client, claims), es_client[1])
    _refused(exc, f"the client assertion lacks the {claim} claim", "invalid_client")


def test_client_assertion_bad_jti(es_client: tuple[bytes, dict[str, Any]]) -> None:
    with pytest.raises(TokenError) as exc:
        _check(_sign(es_client, _claims(jti="")), es_client[1])
    _refused(exc, "the client assertion's jti must be a non-empty string", "invalid_client")
    _check(_sign(es_client, _claims(jti="j" * 200)), es_client[1])
    with pytest.raises(TokenError) as exc:
        _check(_sign(es_client, _claims(jti="j" * 201)), es_client[1])
    _refused(exc, "the client assertion's jti is longer than 200 characters", "invalid_client")


def test_client_assertion_signed_by_unregistered_key(
    es_client: tuple[bytes, dict[str, Any]],
) -> None:
    other_pem, _ = generate_client_key("ES384")
    kid = es_client[1]["keys"][0]["kid"]
    assertion = make_client_assertion(
        other_pem, kid=kid, alg="ES384", client_id=CLIENT, token_endpoint=ENDPOINT, now=NOW
    )
    with pytest.raises(TokenError) as exc:
        _check(assertion, es_client[1])
    _refused(exc, "the client assertion's signature is not valid", "invalid_client")


@pytest.mark.parametrize("assertion", ["", "x", "a.b.c", "eyJhbGciOiJFUzM4NCJ9.!.!"])
def test_malformed_client_assertion(
    es_client: tuple[bytes, dict[str, Any]], assertion: str
) -> None:
    with pytest.raises(TokenError) as exc:
        _check(assertion, es_client[1])
    assert exc.value.error == "invalid_client"


# --- client JWK sets -----------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k"])
def test_jwks_with_private_material_is_refused(
    rs_client: tuple[bytes, dict[str, Any]], member: str
) -> None:
    jwks = copy.deepcopy(rs_client[1])
    jwks["keys"][0][member] = "AQAB"
    with pytest.raises(ValueError, match=r"^the JWK set contains private key material$"):
        validate_client_jwks(jwks)


def test_real_private_ec_jwk_is_refused() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private))
    jwk["kid"] = "k1"
    with pytest.raises(ValueError, match="private key material"):
        validate_client_jwks({"keys": [jwk]})


def test_jwks_key_without_kid(es_client: tuple[bytes, dict[str, Any]]) -> None:
    jwks = copy.deepcopy(es_client[1])
    del jwks["keys"][0]["kid"]
    with pytest.raises(ValueError, match="has no kid"):
        validate_client_jwks(jwks)


def test_jwks_duplicate_kid(
    es_client: tuple[bytes, dict[str, Any]], rs_client: tuple[bytes, dict[str, Any]]
) -> None:
    rs = dict(rs_client[1]["keys"][0], kid=es_client[1]["keys"][0]["kid"])
    with pytest.raises(ValueError, match="more than once"):
        validate_client_jwks({"keys": [es_client[1]["keys"][0], rs]})


def test_jwks_p256_key_is_refused(key: SigningKey) -> None:
    (jwk,) = key.public_jwks()["keys"]
    jwk.pop("alg")
    with pytest.raises(ValueError, match="only P-384 is accepted"):
        validate_client_jwks({"keys": [jwk]})


def test_jwks_small_rsa_key_is_refused() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk["kid"] = "small"
    with pytest.raises(ValueError, match="1024-bit RSA key; at least 2048"):
        validate_client_jwks({"keys": [jwk]})


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        ([], '"keys" array'),
        ({"keys": {}}, '"keys" array'),
        ({"keys": []}, "contains no keys"),
        ({"keys": ["x"]}, "not a JSON object"),
        ({"keys": [{"kid": "a", "kty": "oct"}]}, "only RSA and EC"),
        ({"keys": [{"kid": "a", "kty": "EC", "crv": "P-384", "x": "AAAA"}]}, "lacks the 'y'"),
        (
            {"keys": [{"kid": "a", "kty": "EC", "crv": "P-384", "x": "AAAA", "y": "AAAA"}]},
            "not a valid EC public key",
        ),
    ],
)
def test_jwks_shape_errors(jwks: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_client_jwks(jwks)


def test_jwks_is_normalized_to_public_members(es_client: tuple[bytes, dict[str, Any]]) -> None:
    jwk = dict(es_client[1]["keys"][0], x5c=["..."], key_ops=["verify"], extra="z")
    (normalized,) = validate_client_jwks({"keys": [jwk]})["keys"]
    assert set(normalized) == {"kty", "kid", "crv", "x", "y", "alg", "use"}
    assert normalized is not jwk


def test_jwks_alg_must_fit_key_type(es_client: tuple[bytes, dict[str, Any]]) -> None:
    jwk = dict(es_client[1]["keys"][0], alg="ES256")
    with pytest.raises(ValueError, match="must use ES384"):
        validate_client_jwks({"keys": [jwk]})


def test_assertion_against_invalid_registered_set(
    es_client: tuple[bytes, dict[str, Any]],
) -> None:
    jwks = copy.deepcopy(es_client[1])
    jwks["keys"][0]["d"] = "AAAA"
    with pytest.raises(TokenError) as exc:
        _check(_assertion(es_client), jwks)
    _refused(exc, "the client's registered JWK set is not usable", "invalid_client")


# --- scopes --------------------------------------------------------------------------------------


def test_parse_scopes_valid() -> None:
    assert parse_scopes("  system/CarePlan.rs\tsystem/*.cruds samverkan/admin ") == frozenset(
        {"system/CarePlan.rs", "system/*.cruds", ADMIN_SCOPE}
    )
    assert parse_scopes("system/Encounter.c") == frozenset({"system/Encounter.c"})


def test_parse_scopes_normalizes_v1() -> None:
    assert parse_scopes("system/Patient.read system/Encounter.write system/*.read") == frozenset(
        {"system/Patient.rs", "system/Encounter.cud", "system/*.rs"}
    )


@pytest.mark.parametrize(
    "scope",
    [
        "system/Patient.",  # empty permissions
        "system/Patient.sr",  # letters out of cruds order
        "system/Patient.rr",
        "system/patient.rs",  # resource types are capitalized
        "user/Patient.rs",
        "patient/*.read",
        "system/Patient.rs?category=x",
        "system/Patient.*",
        "openid",
        "samverkan/admins",
    ],
)
def test_parse_scopes_invalid(scope: str) -> None:
    with pytest.raises(ValueError, match="unsupported scope") as exc:
        parse_scopes(f"system/CarePlan.rs {scope}")
    assert scope in str(exc.value)


def test_parse_scopes_empty() -> None:
    for text in ("", "   "):
        with pytest.raises(ValueError, match="no scope"):
            parse_scopes(text)


def test_scope_allows() -> None:
    scopes = frozenset({"system/CarePlan.rs", "system/*.r", ADMIN_SCOPE})
    assert scope_allows(scopes, "CarePlan", "s")
    assert scope_allows(scopes, "Encounter", "r")  # via the wildcard
    assert not scope_allows(scopes, "Encounter", "s")
    assert not scope_allows(scopes, "CarePlan", "c")
    assert not scope_allows(scopes, "CarePlanX", "s")
    assert not scope_allows(frozenset({ADMIN_SCOPE}), "CarePlan", "r")
    with pytest.raises(ValueError):
        scope_allows(scopes, "CarePlan", "rs")


def test_grant_scopes_intersections() -> None:
    allowed = frozenset({"system/*.rs", "system/Encounter.cruds"})
    # Wildcard allowed covers a specific request.
    assert grant_scopes(frozenset({"system/Patient.rs"}), allowed) == {"system/Patient.rs"}
    # Letters not allowed are dropped.
    assert grant_scopes(frozenset({"system/Patient.cruds"}), allowed) == {"system/Patient.rs"}
    assert grant_scopes(frozenset({"system/Encounter.cud"}), allowed) == {"system/Encounter.cud"}
    # Nothing covered: the scope disappears rather than becoming "system/Patient.".
    assert grant_scopes(frozenset({"system/Patient.cud"}), allowed) == frozenset()
    # Merged per resource and re-ordered in cruds order.
    assert grant_scopes(
        frozenset({"system/CarePlan.s", "system/CarePlan.cr"}), frozenset({"system/*.cruds"})
    ) == {"system/CarePlan.crs"}


def test_grant_scopes_narrows_a_requested_wildcard() -> None:
    allowed = frozenset({"system/CarePlan.rs", "system/Encounter.r"})
    assert grant_scopes(frozenset({"system/*.rs"}), allowed) == {
        "system/CarePlan.rs",
        "system/Encounter.r",
    }
    assert grant_scopes(frozenset({"system/*.rs"}), frozenset({"system/*.r"})) == {"system/*.r"}


def test_grant_scopes_admin_only_if_allowed() -> None:
    requested = frozenset({ADMIN_SCOPE, "system/CarePlan.r"})
    assert grant_scopes(requested, frozenset({"system/*.rs"})) == {"system/CarePlan.r"}
    assert grant_scopes(requested, frozenset({ADMIN_SCOPE})) == {ADMIN_SCOPE}
    assert grant_scopes(frozenset({"system/CarePlan.r"}), frozenset({ADMIN_SCOPE})) == frozenset()


def test_verified_tokens_are_remembered_only_until_they_expire() -> None:
    from app.security.tokens import AccessClaims, VerifiedTokens

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    cache = VerifiedTokens(size=2)
    claims = AccessClaims(
        "c", "org", frozenset({"system/*.rs"}), "j", now + timedelta(minutes=5), now
    )
    cache.put("a", claims)
    assert cache.get("a", now) is claims
    assert cache.get("a", now + timedelta(minutes=6)) is None  # past exp and the leeway
    assert cache.get("a", now) is None  # and forgotten
    for token in ("x", "y", "z"):
        cache.put(token, claims)
    assert cache.get("x", now) is None and cache.get("z", now) is claims
