"""Access tokens and client assertions for OAuth 2.0 client credentials (SMART Backend Services).

Clients authenticate at the token endpoint with a JWT signed by their own key (``private_key_jwt``,
RS384 or ES384), verified against the public JWK set registered for the client. The service then
issues short-lived access tokens signed with its own ES256 key and carrying SMART v2 system scopes.

All signing and verification is done by PyJWT on top of ``cryptography``; this module only decides
which keys, algorithms and claims are acceptable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidSubjectError

__all__ = [
    "ADMIN_SCOPE",
    "LOG_EXTRACT_SCOPE",
    "METRICS_SCOPE",
    "SCOPE_PATTERN",
    "AccessClaims",
    "AssertionClaims",
    "SigningKey",
    "TokenError",
    "VerifiedTokens",
    "generate_client_key",
    "grant_scopes",
    "issue_access_token",
    "make_client_assertion",
    "parse_scopes",
    "public_jwks_of",
    "scope_allows",
    "validate_client_jwks",
    "verify_access_token",
    "verify_client_assertion",
]

# Clocks of clients and of our own replicas drift a little; 30 s tolerates that without letting
# an expired credential live on noticeably.
_LEEWAY = timedelta(seconds=30)
_ACCESS_ALG = "ES256"
# RFC 9068 media type: keeps an access token from being mistaken for any other JWT we might sign
# with the same key later (and vice versa).
_ACCESS_TYP = "at+jwt"
_ASSERTION_ALGS = {"RS384": "RSA", "ES384": "EC"}
_MAX_JTI_LENGTH = 200
_MIN_RSA_BITS = 2048
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y")}
# RFC 7638: the members that define a key's thumbprint, per key type.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}
_SIGNING_KEY_SETTING = "SAMVERKAN_SIGNING_KEY_FILE"

SCOPE_PATTERN = re.compile(r"^system/(\*|[A-Z][A-Za-z]+)\.(c?r?u?d?s?)$")
"""SMART v2 system scope: ``system/<ResourceType or *>.<permissions in cruds order>``."""

ADMIN_SCOPE = "samverkan/admin"
"""Scope for the service's own administrative API (client and organization management)."""
METRICS_SCOPE = "samverkan/metrics"
"""Scope for reading the Prometheus metrics at ``GET /metrics``."""
LOG_EXTRACT_SCOPE = "samverkan/log-extract"
"""Scope for the complete access-log extract of one person (PDL 8 kap.; pasientjournalloven)."""
SERVICE_SCOPES = frozenset({ADMIN_SCOPE, METRICS_SCOPE, LOG_EXTRACT_SCOPE})

_V1_SCOPE_PATTERN = re.compile(r"^system/(\*|[A-Z][A-Za-z]+)\.(read|write)$")
_V1_TO_V2 = {"read": "rs", "write": "cud"}
_PERMISSIONS = "cruds"


class TokenError(Exception):
    """A token or assertion was refused.

    ``reason`` is one English sentence safe to return to the caller (it never echoes the token
    itself); ``error`` is the OAuth error code: ``invalid_token`` for access tokens, and
    ``invalid_client`` / ``invalid_grant`` / ``invalid_scope`` for the token endpoint.
    """

    def __init__(self, reason: str, *, error: str = "invalid_token") -> None:
        """Record the caller-safe ``reason`` and the OAuth ``error`` code."""
        super().__init__(reason)
        self.reason = reason
        self.error = error


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified content of one of our access tokens."""

    client_id: str
    organization_id: str
    scopes: frozenset[str]
    jti: str
    expires_at: datetime  # aware UTC
    issued_at: datetime  # aware UTC


@dataclass(frozen=True, slots=True)
class AssertionClaims:
    """What the token endpoint needs from a verified client assertion (to refuse replays)."""

    jti: str
    expires_at: datetime


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of a public RSA or EC JWK."""
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def _require_aware(now: datetime) -> None:
    # A naive datetime would be read as local time by .timestamp(), silently shifting every check.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


class SigningKey:
    """The service's own ES256 key for access tokens."""

    __slots__ = ("_private", "kid")

    kid: str
    """RFC 7638 JWK thumbprint (base64url) of the public key."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        """Wrap an EC P-256 private key; prefer ``generate``, ``from_pem`` or ``load_or_create``."""
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("the signing key must be an EC P-256 private key")
        self._private = private_key
        self.kid = _thumbprint(self._public_jwk_members())

    def _public_jwk_members(self) -> dict[str, Any]:
        return ECAlgorithm.to_jwk(self._private.public_key(), as_dict=True)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half, for verifying access tokens."""
        return self._private.public_key()

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        """The private half, for signing access tokens."""
        return self._private

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh random P-256 key."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        """Load an unencrypted PEM private key; ValueError unless it is an EC P-256 key."""
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ValueError(
                "the signing key is not an unencrypted PEM private key (expected EC P-256)"
            ) from exc
        if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(
            private.curve, ec.SECP256R1
        ):
            raise ValueError("the signing key must be an EC P-256 private key")
        return cls(private)

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return self._private.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )

    @classmethod
    def load_or_create(cls, path: Path, *, create: bool) -> SigningKey:
        """Load the key at ``path``; when missing, create it (mode 0600) only if ``create``."""
        try:
            return cls.from_pem(path.read_bytes())
        except FileNotFoundError:
            if not create:
                raise FileNotFoundError(
                    f"the access-token signing key file {path} does not exist; "
                    f"set {_SIGNING_KEY_SETTING} to an existing EC P-256 PEM key"
                ) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        key = cls.generate()
        try:
            # O_EXCL: two workers starting together must not overwrite each other's key, or the
            # tokens issued by the loser would stop verifying.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.from_pem(path.read_bytes())
        with os.fdopen(fd, "wb") as handle:
            # The umask may only remove bits, but be explicit: the key must be owner-only.
            os.fchmod(handle.fileno(), 0o600)
            handle.write(key.to_pem())
        return key

    def public_jwks(self) -> dict[str, Any]:
        """The public key as a JWK set, for publishing at a JWKS endpoint."""
        jwk = self._public_jwk_members()
        public = {m: jwk[m] for m in ("kty", "crv", "x", "y")}
        public.update(kid=self.kid, alg=_ACCESS_ALG, use="sig")
        return {"keys": [public]}


def _numeric_date(payload: dict[str, Any], claim: str, what: str) -> float:
    value = payload[claim]
    # bool is an int subclass; "exp": true must not pass as 1970-01-01T00:00:01.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError(f"the {what}'s {claim} claim is not a number", error=_ERROR[what])
    return float(value)


_ERROR = {"access token": "invalid_token", "client assertion": "invalid_client"}


def _check_times(payload: dict[str, Any], now: datetime, what: str, *, require_iat: bool) -> float:
    """Check exp/nbf/iat against ``now`` (PyJWT only knows the wall clock); returns exp."""
    error = _ERROR[what]
    now_ts = now.timestamp()
    leeway = _LEEWAY.total_seconds()
    exp = _numeric_date(payload, "exp", what)
    if exp <= now_ts - leeway:
        raise TokenError(f"the {what} has expired", error=error)
    if "nbf" in payload and _numeric_date(payload, "nbf", what) > now_ts + leeway:
        raise TokenError(f"the {what} is not valid yet", error=error)
    if ("iat" in payload or require_iat) and _numeric_date(payload, "iat", what) > now_ts + leeway:
        raise TokenError(f"the {what} was issued in the future", error=error)
    return exp


def issue_access_token(
    key: SigningKey,
    *,
    client_id: str,
    organization_id: str,
    scopes: frozenset[str],
    audience: str,
    issuer: str,
    lifetime: timedelta,
    now: datetime,
) -> str:
    """Sign an ES256 access token for ``client_id`` acting for ``organization_id``."""
    _require_aware(now)
    if lifetime <= timedelta(0):
        raise ValueError("the access token lifetime must be positive")
    if not scopes:
        raise ValueError("an access token needs at least one scope")
    issued = int(now.timestamp())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": client_id,
        "org": organization_id,
        "scope": " ".join(sorted(scopes)),
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(lifetime.total_seconds()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(
        claims, key.private_key, algorithm=_ACCESS_ALG, headers={"kid": key.kid, "typ": _ACCESS_TYP}
    )


def verify_access_token(
    key: SigningKey,
    token: str,
    *,
    audience: str,
    issuer: str,
    now: datetime,
    max_lifetime: timedelta,
) -> AccessClaims:
    """Verify one of our access tokens and return its claims, or raise TokenError.

    A token that lives longer than ``max_lifetime`` (iat to exp) is refused even though our key
    signed it: no token of this service is issued for longer. (An iat in the future is refused,
    so a token never has more than that left to live either.)
    """
    _require_aware(now)
    malformed = TokenError("the access token is malformed")
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        raise malformed from None
    # Checked before decoding so that "none" and HMAC tokens get a clear reason; jwt.decode below
    # also pins algorithms=["ES256"].
    if header.get("alg") != _ACCESS_ALG:
        raise TokenError("the access token is not signed with ES256")
    if header.get("typ") != _ACCESS_TYP:
        raise TokenError("the access token has the wrong type")
    if header.get("kid") != key.kid:
        raise TokenError("the access token was not signed with this service's current key")
    try:
        payload = jwt.decode(
            token,
            key.public_key,
            algorithms=[_ACCESS_ALG],
            audience=audience,
            issuer=issuer,
            options={
                "require": ["iss", "aud", "sub", "org", "scope", "iat", "nbf", "exp", "jti"],
                # Time claims are checked against the caller's `now` in _check_times.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise TokenError("the access token's signature is not valid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"the access token lacks the {exc.claim} claim") from None
    except jwt.InvalidAudienceError:
        raise TokenError("the access token was issued for another audience") from None
    except jwt.InvalidIssuerError:
        raise TokenError("the access token was issued by another issuer") from None
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        raise malformed from None
    exp = _check_times(payload, now, "access token", require_iat=True)
    iat = _numeric_date(payload, "iat", "access token")
    if exp - iat > max_lifetime.total_seconds():
        limit = _describe(max_lifetime)
        raise TokenError(f"the access token lives longer than this service's maximum of {limit}")
    sub, org, scope, jti = payload["sub"], payload["org"], payload["scope"], payload["jti"]
    if not all(isinstance(v, str) and v for v in (sub, org, scope, jti)):
        raise malformed
    try:
        scopes = parse_scopes(scope)
    except ValueError:
        raise malformed from None
    return AccessClaims(
        client_id=sub,
        organization_id=org,
        scopes=scopes,
        jti=jti,
        expires_at=datetime.fromtimestamp(exp, UTC),
        issued_at=datetime.fromtimestamp(iat, UTC),
    )


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


def _describe(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} seconds"


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
    _require_aware(now)

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
        payload = jwt.decode(
            assertion,
            public,
            algorithms=[alg],
            audience=token_endpoint,
            issuer=client_id,
            subject=client_id,
            options={
                "require": ["iss", "sub", "aud", "exp", "jti"],
                # Time claims are checked against the caller's `now` below.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise refuse("the client assertion's signature is not valid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise refuse(f"the client assertion lacks the {exc.claim} claim") from None
    except jwt.InvalidIssuerError:
        raise refuse("the client assertion's iss must be the client_id") from None
    except InvalidSubjectError:
        raise refuse("the client assertion's sub must be the client_id") from None
    except jwt.InvalidAudienceError:
        raise refuse("the client assertion's aud must be the token endpoint URL") from None
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        raise refuse("the client assertion is malformed") from None
    # PyJWT skips iss/sub checks for some shapes (e.g. a list iss); insist on exact strings.
    if payload.get("iss") != client_id or payload.get("sub") != client_id:
        raise refuse("the client assertion's iss and sub must both be the client_id")
    jti = payload["jti"]
    if not isinstance(jti, str) or not jti:
        raise refuse("the client assertion's jti must be a non-empty string")
    if len(jti) > _MAX_JTI_LENGTH:
        raise refuse(f"the client assertion's jti is longer than {_MAX_JTI_LENGTH} characters")
    exp = _check_times(payload, now, "client assertion", require_iat=False)
    # A long-lived assertion is a reusable credential if stolen; SMART caps it at five minutes.
    if exp > (now + max_lifetime).timestamp():
        raise refuse(f"exp is more than {_describe(max_lifetime)} in the future")
    return AssertionClaims(jti=jti, expires_at=datetime.fromtimestamp(exp, UTC))


def _split_scope(scope: str) -> tuple[str, str] | None:
    """(resource or "*", permission letters) of a v2 system scope, else None."""
    match = SCOPE_PATTERN.fullmatch(scope)
    if match is None or not match.group(2):
        return None
    return match.group(1), match.group(2)


def parse_scopes(text: str) -> frozenset[str]:
    """Parse a space-separated scope string into normalized SMART v2 system scopes.

    SMART v1 ``system/X.read`` / ``system/X.write`` are accepted and rewritten as ``system/X.rs`` /
    ``system/X.cud``. Raises ValueError naming the first unsupported scope, or if none is given.
    """
    parsed: set[str] = set()
    for scope in text.split():
        if scope in SERVICE_SCOPES or _split_scope(scope) is not None:
            parsed.add(scope)
            continue
        v1 = _V1_SCOPE_PATTERN.fullmatch(scope)
        if v1 is not None:
            parsed.add(f"system/{v1.group(1)}.{_V1_TO_V2[v1.group(2)]}")
            continue
        shown = scope if len(scope) <= 100 else scope[:100] + "…"
        raise ValueError(f"unsupported scope: {shown!r}")
    if not parsed:
        raise ValueError("no scope was given")
    return frozenset(parsed)


def scope_allows(scopes: frozenset[str], resource: str, permission: str) -> bool:
    """Whether any ``system/<resource or *>.<perms>`` scope grants ``permission`` (one of cruds)."""
    if len(permission) != 1 or permission not in _PERMISSIONS:
        raise ValueError(f"permission must be one of the letters {_PERMISSIONS!r}")
    for scope in scopes:
        split = _split_scope(scope)
        if split is not None and split[0] in (resource, "*") and permission in split[1]:
            return True
    return False


def grant_scopes(requested: frozenset[str], allowed: frozenset[str]) -> frozenset[str]:
    """The part of ``requested`` that ``allowed`` covers, per resource and permission letter.

    ``system/*.rs`` allowed and ``system/Patient.cruds`` requested gives ``system/Patient.rs``.
    A requested wildcard is narrowed to the allowed specific resources (``system/*.rs`` requested
    with ``system/Patient.r`` allowed gives ``system/Patient.r``) rather than refused outright, as
    OAuth lets a server grant less than asked. The service's own scopes (``samverkan/admin``,
    ``samverkan/metrics``, ``samverkan/log-extract``) are granted only if allowed.
    """
    letters: dict[str, set[str]] = {}
    for scope in requested:
        split = _split_scope(scope)
        if split is None:
            continue
        resource, perms = split
        for letter in perms:
            if scope_allows(allowed, resource, letter):
                letters.setdefault(resource, set()).add(letter)
            elif resource == "*":
                for allowed_scope in allowed:
                    allowed_split = _split_scope(allowed_scope)
                    if allowed_split is not None and letter in allowed_split[1]:
                        letters.setdefault(allowed_split[0], set()).add(letter)
    granted = {
        f"system/{resource}.{''.join(p for p in _PERMISSIONS if p in found)}"
        for resource, found in letters.items()
        if found
    }
    granted |= requested & allowed & SERVICE_SCOPES
    return frozenset(granted)


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
    public.update(kid=_thumbprint(public), alg=alg, use="sig")
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
    _require_aware(now)
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


class VerifiedTokens:
    """Access tokens already verified by this process, until they expire.

    A client sends the same token with every request for its lifetime; verifying the ES256
    signature and the claims once instead of on every request saves most of a millisecond per
    request. Only successful verifications are remembered, and an entry is used only while the
    token has not expired; the cache is bounded (least recently used out first).
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._claims: OrderedDict[str, AccessClaims] = OrderedDict()

    def get(self, token: str, now: datetime) -> AccessClaims | None:
        """The claims of a token verified before and not yet expired, else None."""
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims.expires_at + _LEEWAY <= now:
            del self._claims[token]
            return None
        self._claims.move_to_end(token)
        return claims

    def put(self, token: str, claims: AccessClaims) -> None:
        """Remember a token that verified."""
        self._claims[token] = claims
        self._claims.move_to_end(token)
        while len(self._claims) > self._size:
            self._claims.popitem(last=False)
