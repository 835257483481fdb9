"""The service's settings, in one place; every value can be set as ``SAMVERKAN_<NAME>``."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path(__file__).parent / "data"


class Environment(StrEnum):
    """Where the service runs; development relaxes what production must refuse."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Configuration read from the environment (prefix ``SAMVERKAN_``)."""

    model_config = SettingsConfigDict(
        env_prefix="SAMVERKAN_", extra="ignore", populate_by_name=True
    )

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///var/samverkan.db"
    # Connections each process keeps open. Requests beyond it open overflow connections that are
    # closed again when returned: under a steady load over the pool each of those requests pays
    # for a new PostgreSQL backend (a profile of the read under 16 concurrent requests a worker
    # found connecting and closing in its hot path at 10).
    database_pool_size: int = Field(default=20, ge=1)
    # `PORT` (as `make run` and container platforms set it) is where `samverkan serve` listens
    # and, unless the public URL is given, the port the service names in what it returns.
    port: int = Field(
        default=8000,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("PORT", "SAMVERKAN_PORT"),
        description="TCP port of `samverkan serve`",
    )
    public_base_url: str = Field(
        default="",
        description="the URL clients reach the service at; default http://127.0.0.1:PORT",
    )

    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="request body size limit")
    # Documents travel base64-encoded in JSON, so a request that carries one may be a third
    # larger than the document itself (``document_body_bytes``).
    document_max_bytes: int = Field(
        default=4_194_304, ge=1024, description="the largest document content accepted, in bytes"
    )
    document_content_types: list[str] = Field(
        default=["application/pdf", "text/plain", "application/fhir+json"],
        min_length=1,
        description="the media types a document may have (of PDF, plain text, FHIR Bundle)",
    )
    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=200, ge=1)
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    max_bundle_entries: int = Field(
        default=500, ge=1, description="entries a FHIR transaction or batch Bundle may have"
    )
    # Instants outside these years are refused at the edge (app.domain.values): each engine and
    # Python's datetime can store and compute with everything in between.
    instant_min_year: int = Field(default=1900, ge=2, le=9998, description="earliest year kept")
    instant_max_year: int = Field(default=2200, ge=2, le=9998, description="latest year kept")
    max_json_depth: int = Field(
        default=64, ge=8, le=512, description="deepest nesting of a JSON body's arrays and objects"
    )
    message_dedupe_minutes: int = Field(
        default=10080, ge=1, description="how long a processed message Bundle.id is remembered"
    )

    liability_config_file: Path = DATA_DIR / "liability.json"

    signing_key_file: Path = Path("var/signing-key.pem")
    access_token_lifetime_seconds: int = Field(default=300, ge=30, le=3600)
    # A token of ours that claims to live longer is refused, however it was signed (dev-token
    # may mint up to this).
    access_token_max_lifetime_seconds: int = Field(default=3600, ge=30, le=86400)
    # How stale a process's copy of the revocation list may be: a disabled client's tokens are
    # refused everywhere within this many seconds.
    token_revocation_cache_seconds: float = Field(default=5.0, gt=0, le=60)
    # Whether a principal-level client's writes of personal data must name the acting unit and
    # the user (X-Samverkan-Unit, X-Samverkan-User); by default only in production.
    require_acting_unit: bool | None = None
    rate_limit_per_minute: int = Field(default=6000, ge=1, description="requests per client")
    demo_clients_dir: Path = Path("var/demo-clients")
    # Regional reserve numbers are accepted without check-digit validation under these systems.
    reserve_number_systems: frozenset[str] = frozenset(
        {"https://samverkan.dev/fhir/NamingSystem/reserve-number"}
    )

    # Delivery (DESIGN §11). `samverkan serve` runs a dispatcher in the app; `samverkan dispatcher`
    # runs one on its own. Several may run at once on PostgreSQL.
    dispatcher_enabled: bool = Field(
        default=False, description="run a dispatcher inside the API process"
    )
    dispatcher_metrics_address: str | None = Field(
        default=None,
        description="HOST:PORT where `samverkan dispatcher` serves /metrics, e.g. 0.0.0.0:9464",
    )
    dispatcher_poll_seconds: float = Field(default=1.0, gt=0, description="idle wait between polls")
    dispatcher_batch_size: int = Field(default=20, ge=1, description="pushes claimed at once")
    # Deviations that raise themselves (DESIGN §7) are raised by a job wherever a dispatcher runs.
    deviation_rules_interval_seconds: float = Field(
        default=60.0,
        ge=0,
        description="how often the dispatcher raises automatic deviations; 0 turns the job off "
        "in this process",
    )
    # The writers of the per-day statistics add to a shard each (app.store.statistics_daily);
    # the dispatcher folds them into one row per key.
    statistics_compact_interval_seconds: float = Field(
        default=300.0,
        ge=0,
        description="how often the dispatcher folds the per-day statistics' shards; 0 turns the "
        "job off in this process",
    )
    # With the defaults a push is retried for 34 to 67 minutes (2 s doubling to 10 min, jittered)
    # before it is dead: an endpoint down for a maintenance window loses nothing to replay.
    delivery_max_attempts: int = Field(default=15, ge=1, description="then the push is dead")
    delivery_backoff_base_seconds: float = Field(default=2.0, gt=0)
    delivery_backoff_max_seconds: float = Field(default=600.0, gt=0)
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, description="per HTTP attempt")
    delivery_lease_seconds: float = Field(
        default=60.0, gt=0, description="how long a claimed push is the claimer's alone"
    )
    # Fair delivery (docs/operations.md): a dead or slow endpoint delays only its own pushes.
    delivery_breaker_threshold: int = Field(
        default=5, ge=1, description="failed pushes in a row that open an endpoint's breaker"
    )
    delivery_breaker_cooldown_seconds: float = Field(
        default=60.0, gt=0, description="how long an open breaker waits before one probe push"
    )
    delivery_endpoint_concurrency: int = Field(
        default=4, ge=1, description="pushes in flight to one endpoint (origin) at once"
    )
    max_subscriptions_per_organization: int = Field(
        default=20, ge=1, description="live subscriptions an organization may have"
    )

    # The web console (DESIGN §1, §10): people sign in with OpenID Connect (authorization code
    # with PKCE). The IdP's claims name the organization (unit) and role, or the administrator's
    # mapping file does ({"<sub>": {"organization": "...", "role": "...", "name": "..."}}).
    console_idle_minutes: int = Field(default=30, ge=1, le=720, description="idle timeout")
    console_session_hours: int = Field(default=12, ge=1, le=72, description="longest session")
    oidc_issuer: str | None = Field(default=None, description="the IdP, e.g. a SITHS eID broker")
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile"
    oidc_organization_claim: str = Field(
        default="samverkan_organization", description="claim naming the organization or unit id"
    )
    oidc_role_claim: str = Field(default="samverkan_role", description="claim naming the role")
    oidc_name_claim: str = "name"
    oidc_user_map_file: Path | None = Field(
        default=None, description="the administrator's mapping of subjects to organization, role"
    )

    @property
    def console_cookie_secure(self) -> bool:
        """Whether the console's cookie is Secure: always, but for plain-http loopback in dev."""
        if self.environment is Environment.PRODUCTION:
            return True
        return not self.public_base_url.startswith(
            ("http://127.0.0.1", "http://localhost", "http://[::1]")
        )

    @property
    def oidc_configured(self) -> bool:
        """Whether people can sign in to the console through an IdP."""
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def issuer(self) -> str:
        """The issuer and audience of the service's access tokens."""
        return self.public_base_url.rstrip("/")

    @property
    def token_endpoint(self) -> str:
        """The audience client assertions must name."""
        return f"{self.issuer}/auth/token"

    @property
    def acting_unit_required(self) -> bool:
        """Whether principal-level writes must name their unit and user."""
        if self.require_acting_unit is None:
            return self.environment is Environment.PRODUCTION
        return self.require_acting_unit

    @property
    def dev_tokens_allowed(self) -> bool:
        """Whether `samverkan dev-token` may mint tokens: never in production."""
        return self.environment is not Environment.PRODUCTION

    @property
    def dev_sign_in_allowed(self) -> bool:
        """Whether the console offers the development sign-in: never in production."""
        return self.environment is not Environment.PRODUCTION

    @property
    def document_body_bytes(self) -> int:
        """The body limit of a request that may carry a document: the configured limit, or
        room for the largest document base64-encoded with its JSON around it."""
        return max(self.max_body_bytes, -(-self.document_max_bytes * 4 // 3) + 65_536)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("SAMVERKAN_DEFAULT_PAGE_SIZE must not exceed SAMVERKAN_MAX_PAGE_SIZE")
        if self.instant_min_year > self.instant_max_year:
            raise ValueError(
                "SAMVERKAN_INSTANT_MIN_YEAR must not exceed SAMVERKAN_INSTANT_MAX_YEAR"
            )
        if self.access_token_lifetime_seconds > self.access_token_max_lifetime_seconds:
            raise ValueError(
                "SAMVERKAN_ACCESS_TOKEN_LIFETIME_SECONDS must not exceed "
                "SAMVERKAN_ACCESS_TOKEN_MAX_LIFETIME_SECONDS"
            )
        if self.environment is Environment.PRODUCTION:
            if self.database_url.startswith("sqlite"):
                raise ValueError(
                    "SAMVERKAN_DATABASE_URL: production runs on PostgreSQL "
                    "(postgresql+asyncpg://…), not SQLite"
                )
            if not self.public_base_url:
                raise ValueError(
                    "SAMVERKAN_PUBLIC_BASE_URL: production needs the URL clients reach it at"
                )
        # Tokens' audience, fullUrl, Location and subscription references all name this URL.
        self.public_base_url = self.public_base_url or f"http://127.0.0.1:{self.port}"
        if not self.public_base_url.startswith(("http://", "https://")):
            raise ValueError("SAMVERKAN_PUBLIC_BASE_URL must start with http:// or https://")
        known = {"application/pdf", "text/plain", "application/fhir+json"}
        if not set(self.document_content_types) <= known:
            raise ValueError(
                "SAMVERKAN_DOCUMENT_CONTENT_TYPES: choose among " + ", ".join(sorted(known))
            )
        if self.dispatcher_metrics_address is not None:
            split_address(self.dispatcher_metrics_address)
        if self.delivery_timeout_seconds >= self.delivery_lease_seconds:
            # A push still running when its lease ends could be pushed again by another
            # dispatcher at the same time.
            raise ValueError(
                "SAMVERKAN_DELIVERY_TIMEOUT_SECONDS must be shorter than "
                "SAMVERKAN_DELIVERY_LEASE_SECONDS"
            )
        return self


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``0.0.0.0:9464``, ``[::]:9464``) as host and port; ValueError otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"SAMVERKAN_DISPATCHER_METRICS_ADDRESS must be HOST:PORT, not {address!r}")
    return host.strip("[]"), int(port)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
