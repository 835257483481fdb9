"""A real OpenID Connect provider on loopback for the sign-in tests: oidc-provider-mock (Authlib's
authorization server on Flask), behind a check that every code is redeemed with the PKCE verifier
of the challenge it was issued for (RFC 7636, S256), which that provider does not check itself."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import oidc_provider_mock
from werkzeug.serving import make_server

StartResponse = Callable[..., Any]


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class PkceCheck:
    """WSGI middleware: remembers each code's challenge, refuses a token request that fails it."""

    app: Callable[..., Iterable[bytes]]
    challenges: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    verified: int = 0
    refused: int = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/authorize":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            challenge = (
                query.get("code_challenge", [None])[0],
                query.get("code_challenge_method", [None])[0],
            )

            def remember(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
                location = dict(headers).get("Location", "")
                code = parse_qs(urlparse(location).query).get("code")
                if code:
                    self.challenges[code[0]] = challenge
                return start_response(status, headers, *args)

            return self.app(environ, remember)
        if path == "/oauth2/token":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            form = parse_qs(body.decode())
            code = form.get("code", [""])[0]
            verifier = form.get("code_verifier", [None])[0]
            challenge, method = self.challenges.pop(code, (None, None))
            if method != "S256" or verifier is None or s256(verifier) != challenge:
                self.refused += 1
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error": "invalid_grant", "error_description": "PKCE check failed"}']
            self.verified += 1
            environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


@dataclass
class Provider:
    """The running provider: its issuer URL and the PKCE check in front of it."""

    issuer: str
    pkce: PkceCheck


@contextmanager
def running_provider() -> Iterator[Provider]:
    """Serve the provider on a free loopback port for the duration of the block."""
    app = oidc_provider_mock.app(require_nonce=True)
    check = PkceCheck(app.wsgi_app)
    app.wsgi_app = check  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}", check)
    finally:
        server.shutdown()
        thread.join(timeout=10)
