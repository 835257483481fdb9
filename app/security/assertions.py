"""Client credentials: the public JWK sets clients register, the client assertions (RFC 7523,
``private_key_jwt``, RS384 or ES384) they authenticate with, and keys for new clients."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidSubjectError

from app.security.tokens import (
    TokenError,
    check_times,
    decode_claims,
    describe_lifetime,
    require_aware,
    thumbprint,
)

_ASSERTION_ALGS = {"RS384": "RSA", "ES384": "EC"}
_MAX_JTI_LENGTH = 200
_MIN_RSA_BITS = 2048
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y")}


@dataclass(frozen=True, slots=True)
class AssertionClaims:
    """What the token endpoint needs from a verified client assertion (to refuse replays)."""

    jti: str
    expires_at: datetime


def _validate_jwk(jwk: Any, index: int, seen: set[str]) -> dict[str, Any]:
    where = f"key {index}"
    if not isinstance(jwk, dict):
        raise ValueError(f"{where} of the JWK set is not a JSON object")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise ValueError("the JWK set contains private key material")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError(f"{where} of the JWK set has no kid")
    if kid in seen:
        raise ValueError(f"the kid {kid!r} appears more than once in the JWK set")
    seen.add(kid)
    where = f"key {kid!r}"
    kty = jwk.get("kty")
    if kty not in _PUBLIC_MEMBERS:
        raise ValueError(f"{where} has kty {kty!r}; only RSA and EC keys are accepted")
    alg = "RS384" if kty == "RSA" else "ES384"
    if kty == "EC" and jwk.get("crv") != "P-384":
        raise ValueError(f"{where} is an EC key on {jwk.get('crv')!r}; only P-384 is accepted")
    for member in _PUBLIC_MEMBERS[kty]:
        if not isinstance(jwk.get(member), str) or not jwk[member]:
            raise ValueError(f"{where} lacks the {member!r} member")
    if "alg" in jwk and jwk["alg"] != alg:
        raise ValueError(f"{where} declares alg {jwk['alg']!r}; an {kty} key must use {alg}")
    if "use" in jwk and jwk["use"] != "sig":
        raise ValueError(f"{where} declares use {jwk['use']!r}; only 'sig' is accepted")
    normalized: dict[str, Any] = {"kty": kty, "kid": kid}
    normalized.update({m: jwk[m] for m in _PUBLIC_MEMBERS[kty]})
    for optional in ("alg", "use"):
        if optional in jwk:
            normalized[optional] = jwk[optional]
    try:
        # Parsing proves the members form a real key (EC points must lie on the curve).
        public = jwt.PyJWK(normalized, algorithm=alg).key
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        raise ValueError(f"{where} is not a valid {kty} public key") from None
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < _MIN_RSA_BITS:
        raise ValueError(f"{where} is a {public.key_size}-bit RSA key; at least 2048 is required")
    return normalized


def validate_client_jwks(jwks: Any) -> dict[str, Any]:
    """Check a client's public JWK set and return a normalized copy with only public members.

    Raises ValueError naming the problem. Accepted keys: RSA of at least 2048 bits (for RS384) and
    EC on P-384 (for ES384), each with a unique ``kid``.
    """
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError('the JWK set must be a JSON object with a "keys" array')
    if not jwks["keys"]:
        raise ValueError("the JWK set contains no keys")
    seen: set[str] = set()
    return {"keys": [_validate_jwk(jwk, i, seen) for i, jwk in enumerate(jwks["keys"])]}


def verify_client_assertion(
    assertion: str,
    jwks: dict[str, Any],
    *,
    client_id: str,
    token_endpoint: str,
    now: datetime,
    max_lifetime: timedelta = timedelta(minutes=5),
) -> AssertionClaims:
    """Verify a ``private_key_jwt`` client assertion under the SMART Backend Services rules.

    Every refusal is a TokenError with ``error="invalid_client"``. Replay protection (remembering
    ``jti`` until ``expires_at``) is the caller's job.
    """
    require_aware(now)

    def refuse(reason: str) -> TokenError:
        return TokenError(reason, error="invalid_client")

    try:
        header = jwt.get_unverified_header(assertion)
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        raise refuse("the client assertion is malformed") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _ASSERTION_ALGS:
        raise refuse("the client assertion must be signed with RS384 or ES384")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise refuse("the client assertion header has no kid")
    try:
        # Re-validated here so that a stored set that predates a rule cannot slip past it.
        keys = validate_client_jwks(jwks)["keys"]
    except ValueError:
        raise refuse("the client's registered JWK set is not usable") from None
    jwk = next((k for k in keys if k["kid"] == kid), None)
    if jwk is None:
        raise refuse("no registered key of this client has the kid in the assertion header")
    if jwk["kty"] != _ASSERTION_ALGS[alg]:
        raise refuse(f"the registered key with this kid cannot verify {alg} signatures")
    try:
        public = jwt.PyJWK(jwk, algorithm=alg).key
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        raise refuse("the client assertion is malformed") from None
    payload = decode_claims(
        assertion,
        public,
        alg,
        what="client assertion",
        refuse=refuse,
        audience=token_endpoint,
        issuer=client_id,
        subject=client_id,
        require=["iss", "sub", "aud", "exp", "jti"],
        wrong={
            jwt.InvalidIssuerError: "the client assertion's iss must be the client_id",
            InvalidSubjectError: "the client assertion's sub must be the client_id",
            jwt.InvalidAudienceError: "the client assertion's aud must be the token endpoint URL",
        },
    )
    # PyJWT skips iss/sub checks for some shapes (e.g. a list iss); insist on exact strings.
    if payload.get("iss") != client_id or payload.get("sub") != client_id:
        raise refuse("the client assertion's iss and sub must both be the client_id")
    jti = payload["jti"]
    if not isinstance(jti, str) or not jti:
        raise refuse("the client assertion's jti must be a non-empty string")
    if len(jti) > _MAX_JTI_LENGTH:
        raise refuse(f"the client assertion's jti is longer than {_MAX_JTI_LENGTH} characters")
    exp = check_times(payload, now, "client assertion", require_iat=False)
    # A long-lived assertion is a reusable credential if stolen; SMART caps it at five minutes.
    if exp > (now + max_lifetime).timestamp():
        raise refuse(f"exp is more than {describe_lifetime(max_lifetime)} in the future")
    return AssertionClaims(jti=jti, expires_at=datetime.fromtimestamp(exp, UTC))


def generate_client_key(alg: str = "ES384") -> tuple[bytes, dict[str, Any]]:
    """A new client key pair: (PKCS#8 PEM private key, public JWK set with one key).

    ES384 uses P-384, RS384 uses RSA 2048. The key's ``kid`` is its RFC 7638 thumbprint.
    """
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if alg == "ES384":
        private = ec.generate_private_key(ec.SECP384R1())
    elif alg == "RS384":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ValueError("client keys use ES384 or RS384")
    pem = private.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    return pem, public_jwks_of(pem)


def public_jwks_of(private_pem: bytes) -> dict[str, Any]:
    """The public JWK set of a client's private key, as ``generate_client_key`` returns it.

    EC P-384 keys get ``alg`` ES384, RSA keys RS384; ``kid`` is the RFC 7638 thumbprint.
    """
    private = serialization.load_pem_private_key(private_pem, password=None)
    if isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP384R1):
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
        alg = "ES384"
    elif isinstance(private, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        alg = "RS384"
    else:
        raise ValueError("a client key is EC P-384 (ES384) or RSA (RS384)")
    public = {m: jwk[m] for m in ("kty", *_PUBLIC_MEMBERS[jwk["kty"]])}
    public.update(kid=thumbprint(public), alg=alg, use="sig")
    return {"keys": [public]}


def make_client_assertion(
    private_pem: bytes,
    *,
    kid: str,
    alg: str,
    client_id: str,
    token_endpoint: str,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=2),
    jti: str | None = None,
) -> str:
    """Sign a client assertion as a SMART backend client would (for tests, CLI and demos)."""
    require_aware(now)
    private = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("the client key must be an RSA or EC private key")
    issued = int(now.timestamp())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": issued,
        "exp": issued + int(lifetime.total_seconds()),
        "jti": jti if jti is not None else uuid.uuid4().hex,
    }
    return jwt.encode(claims, private, algorithm=alg, headers={"kid": kid, "typ": "JWT"})
