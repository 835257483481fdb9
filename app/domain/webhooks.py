"""The push contract with a receiver's endpoint: the headers every push carries, and its signature.

Every push is signed: ``X-Samverkan-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body
with the subscription's secret; ``X-Samverkan-Event-Id`` names the event, by which a receiver
recognises a repeated push.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Samverkan-Signature"
EVENT_ID_HEADER = "X-Samverkan-Event-Id"


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is the signature of ``body`` (what a receiver checks)."""
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)
