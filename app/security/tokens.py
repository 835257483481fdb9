"""Access tokens for OAuth 2.0 client credentials (SMART Backend Services).

Clients authenticate at the token endpoint with a JWT signed by their own key (``private_key_jwt``,
``app.security.assertions``). The service then issues short-lived access tokens signed with its
own ES256 key and carrying SMART v2 system scopes (``app.security.scopes``).

All signing and verification is done by PyJWT on top of ``cryptography``; this module only decides
which keys, algorithms and claims are acceptable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from app.security.scopes import parse_scopes

# Clocks of clients and of our own replicas drift a little; 30 s tolerates that without letting
# an expired credential live on noticeably.
_LEEWAY = timedelta(seconds=30)
_ACCESS_ALG = "ES256"
# RFC 9068 media type: keeps an access token from being mistaken for any other JWT we might sign
# with the same key later (and vice versa).
_ACCESS_TYP = "at+jwt"
# RFC 7638: the members that define a key's thumbprint, per key type.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}
_SIGNING_KEY_SETTING = "SAMVERKAN_SIGNING_KEY_FILE"


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


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of a public RSA or EC JWK."""
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def require_aware(now: datetime) -> None:
    """Refuse a naive ``now``."""
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
        self.kid = thumbprint(self._public_jwk_members())

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


def check_times(payload: dict[str, Any], now: datetime, what: str, *, require_iat: bool) -> float:
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
    require_aware(now)
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


def decode_claims(
    token: str,
    key: Any,
    alg: str,
    *,
    what: str,
    refuse: Callable[[str], TokenError],
    audience: str,
    issuer: str,
    require: list[str],
    wrong: Mapping[type[Exception], str],
    subject: str | None = None,
) -> dict[str, Any]:
    """The claims of a JWT (``what``: "access token", "client assertion") that ``key`` verifies
    with ``alg``, for ``audience`` from ``issuer`` (and about ``subject``), carrying every claim
    of ``require``; else ``refuse`` with the reason: ``wrong`` gives it for a claim of the
    wrong value (audience, issuer, subject). Time claims are left to ``check_times``, against the
    caller's ``now``."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=audience,
            issuer=issuer,
            subject=subject,
            options={
                "require": require,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise refuse(f"the {what}'s signature is not valid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise refuse(f"the {what} lacks the {exc.claim} claim") from None
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise refuse(wrong.get(type(exc), f"the {what} is malformed")) from None
    return payload


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
    require_aware(now)
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
    payload = decode_claims(
        token,
        key.public_key,
        _ACCESS_ALG,
        what="access token",
        refuse=TokenError,
        audience=audience,
        issuer=issuer,
        require=["iss", "aud", "sub", "org", "scope", "iat", "nbf", "exp", "jti"],
        wrong={
            jwt.InvalidAudienceError: "the access token was issued for another audience",
            jwt.InvalidIssuerError: "the access token was issued by another issuer",
        },
    )
    exp = check_times(payload, now, "access token", require_iat=True)
    iat = _numeric_date(payload, "iat", "access token")
    if exp - iat > max_lifetime.total_seconds():
        limit = describe_lifetime(max_lifetime)
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


def describe_lifetime(delta: timedelta) -> str:
    """A lifetime in words, for refusals ("5 minutes")."""
    seconds = int(delta.total_seconds())
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} seconds"


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
