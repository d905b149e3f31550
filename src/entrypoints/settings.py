"""All configuration in one typed object, read from SCOREMATE_* environment variables (and a .env file)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import math
import os
import re
import secrets
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

from msgspec import Meta

from application.ports import RateRule

PREFIX = "SCOREMATE_"
MIN_SECRET_LENGTH = 32
_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*$")


class SettingsError(ValueError):
    pass


# The bounds of every numeric setting are declared on its field below, with these; `validate` checks them all (and
# that a float is finite), and a numeric field without one fails the settings tests.
Positive = Meta(gt=0)
NonNegative = Meta(ge=0)  # 0 means off (or none), as the README says of each
PortNumber = Meta(ge=1, le=65535)
PortOrOff = Meta(ge=0, le=65535)


def parse_rate(text: str) -> RateRule:
    """'10/15min', '60/minute', '5/h' -> RateRule."""
    match = _RATE.match(text.lower())
    if not match or match.group(3) not in _UNITS:
        raise SettingsError(f"not a rate like '10/15min' or '60/minute': {text!r}")
    count, amount, unit = match.groups()
    if int(count) < 1 or amount == "0":
        raise SettingsError(f"a rate counts at least 1 in a window of at least one unit: {text!r}")
    return RateRule(limit=int(count), window_seconds=int(amount or 1) * _UNITS[unit])


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./var")
    database_url: str = ""
    # Per process (an API process or a worker): the most database connections it holds, and how long a request
    # waits for one when all are busy before it answers 503.
    database_max_connections: Annotated[int, Positive] = 15
    database_pool_timeout_seconds: Annotated[float, Positive] = 30.0
    redis_url: str | None = None
    storage: Literal["local", "s3"] = "local"
    s3_endpoint: str = "127.0.0.1:9000"
    s3_public_endpoint: str | None = None
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "scoremate"
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    jwt_secret: str = ""
    access_token_ttl_seconds: Annotated[int, Positive] = 3600
    default_quota_bytes: Annotated[int, Positive] = 1024**3
    max_upload_bytes: Annotated[int, Positive] = 100 * 1024**2
    presign_expiry_seconds: Annotated[int, Positive] = 300
    reservation_ttl_seconds: Annotated[int, Positive] = 3600
    unused_upload_grace_seconds: Annotated[int, Positive] = 24 * 3600
    # Longer than task_idle_timeout_seconds plus the retries' backoff: the broker hands a dead worker's task to
    # another worker before the sweep gives up on it.
    stuck_processing_seconds: Annotated[int, Positive] = 30 * 60
    max_pending_uploads: Annotated[int, Positive] = 50
    # Days a deleted score stays in the trash (0: no trash, deleting is permanent); at most a century, which keeps
    # deletion dates plus retention within what dates can hold.
    trash_retention_days: Annotated[int, Meta(ge=0, le=36_500)] = 30
    public_base_url: str = ""
    # Addresses of reverse proxies whose X-Forwarded-For names the real client (for the per-address limits).
    trusted_proxies: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: Annotated[int, PortNumber] = 8000
    # How long `serve` lets requests still running (a slow upload, say) finish after SIGTERM before it stops.
    shutdown_grace_seconds: Annotated[int, Positive] = 25
    # What `serve` holds a client to (entrypoints/http/server_limits.py): the request line and headers, how long they
    # and a body may take, how long an idle connection stays open, and how many connections one process keeps.
    max_request_header_bytes: Annotated[int, Positive] = 64 * 1024
    request_header_timeout_seconds: Annotated[float, Positive] = 10.0
    request_body_timeout_seconds: Annotated[float, Positive] = 30.0
    upload_min_bytes_per_second: Annotated[int, Positive] = 4096
    # Longer than clients' connection pools and load balancers keep idle connections (httpx 5 s, AWS ALB 60 s): the
    # server closing one just as a client reuses it would fail that request (a reset or a 502).
    keep_alive_timeout_seconds: Annotated[int, Positive] = 75
    max_connections: Annotated[int, Positive] = 1000
    login_failure_limit: str = "10/15min"  # per email and client address
    login_address_failure_limit: str = "50/15min"  # per client address, any email
    login_email_failure_limit: str = "100/day"  # per email, any address: then a few tries per address
    upload_rate_limit: str = "60/minute"
    # regenerate_thumbnail, refresh_info and generate_all_thumbnails together, per user.
    score_action_rate_limit: str = "30/minute"
    register_rate_limit: str = "1000/hour"
    registration: Literal["open", "closed"] = "open"
    # Every API process reads the deactivated accounts again this often: their tokens are refused within it.
    account_status_refresh_seconds: Annotated[float, Meta(gt=0, le=30)] = 15.0
    cors_allow_origins: tuple[str, ...] = ()
    max_request_body_bytes: Annotated[int, Positive] = 1024 * 1024
    render_processes: Annotated[int, Positive] = 2
    render_timeout_seconds: Annotated[float, Positive] = 10.0
    inspect_timeout_seconds: Annotated[float, Positive] = 30.0
    render_max_output_pixels: Annotated[int, Positive] = 480_000  # four times the 300x400 thumbnail box
    # PDF's largest page, 14,400 units, at a UserUnit of 100: past any real page (fitted renders of larger ones work).
    render_max_page_points: Annotated[float, Positive] = 1_440_000.0
    # Address space of each render process (0: no limit); its resident memory stays some 40 MB below.
    render_memory_limit_bytes: Annotated[int, NonNegative] = 320 * 1024**2
    max_page_thumbnails: Annotated[int, Positive] = 2000
    # One run of "all page thumbnails" stops after this long, so that one document cannot keep a worker for hours
    # (and below the last-resort idle timeout); a new run goes on from where it stopped.
    page_thumbnails_seconds: Annotated[float, Positive] = 600.0
    task_max_retries: Annotated[int, NonNegative] = 3
    task_retry_base_seconds: Annotated[float, NonNegative] = 1.0
    maintenance_interval_seconds: Annotated[float, Positive] = 60.0
    quota_reconcile_interval_seconds: Annotated[float, Positive] = 600.0
    # Last resort only: a task unacknowledged this long is handed to another worker even though its worker still
    # beats (a worker's own tasks are kept fresh while it lives; this catches workers that do not beat).
    task_idle_timeout_seconds: Annotated[float, Positive] = 900.0
    # Every worker renews its heartbeat in Redis this often; a worker whose heartbeat was not renewed for the TTL is
    # dead, and its unfinished tasks go to a live worker.
    worker_heartbeat_seconds: Annotated[float, Positive] = 5.0
    worker_heartbeat_ttl_seconds: Annotated[float, Positive] = 15.0
    task_stream_maxlen: Annotated[int, Positive] = 100_000
    worker_concurrency: Annotated[int, Positive] = 8
    redis_key_prefix: str = "scoremate:"
    metrics_port: Annotated[int, PortOrOff] = 0
    metrics_token: str = ""
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'scoremate.db').resolve()}"

    @property
    def effective_public_base_url(self) -> str:
        # A wildcard bind address is no address a client can reach; loopback at least works on this machine.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return (self.public_base_url or f"http://{host}:{self.port}").rstrip("/")

    @property
    def login_failure_rule(self) -> RateRule:
        return parse_rate(self.login_failure_limit)

    @property
    def login_address_failure_rule(self) -> RateRule:
        return parse_rate(self.login_address_failure_limit)

    @property
    def login_email_failure_rule(self) -> RateRule:
        return parse_rate(self.login_email_failure_limit)

    @property
    def upload_rate_rule(self) -> RateRule:
        return parse_rate(self.upload_rate_limit)

    @property
    def score_action_rule(self) -> RateRule:
        return parse_rate(self.score_action_rate_limit)

    @property
    def register_rule(self) -> RateRule:
        return parse_rate(self.register_rate_limit)

    def secret(self, purpose: str) -> str:
        """A signing key for one purpose ("tokens", "storage-urls"), derived from the configured secret or from
        one generated once into the data dir, so no two purposes share a key."""
        master = self.jwt_secret or self._generated_secret()
        return hmac.new(master.encode(), purpose.encode(), hashlib.sha256).hexdigest()

    def _generated_secret(self) -> str:
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # Written aside and linked into place: processes starting together all end up reading one secret.
            draft = path.with_name(f".secret.{os.getpid()}.{secrets.token_hex(4)}")
            draft.write_text(secrets.token_urlsafe(48))
            draft.chmod(0o600)
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
            draft.unlink()
        return path.read_text().strip()

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, env_file: Path | None = Path(".env"), **overrides: Any
    ) -> Settings:
        values = dict(_read_env_file(env_file)) if env_file else {}
        values.update(environ if environ is not None else os.environ)
        kwargs: dict[str, Any] = {}
        types = _field_types()
        for spec in fields(cls):
            raw = values.get(PREFIX + spec.name.upper(), "").strip()
            if not raw:  # empty is unset, as `VAR: ${VAR:-}` in compose passes it on
                continue
            kwargs[spec.name] = _convert(spec.name, types[spec.name], raw)
        kwargs.update(overrides)
        settings = cls(**kwargs)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.storage not in ("local", "s3"):
            raise SettingsError("SCOREMATE_STORAGE must be 'local' or 's3'")
        if self.log_format not in ("text", "json"):
            raise SettingsError("SCOREMATE_LOG_FORMAT must be 'text' or 'json'")
        if self.registration not in ("open", "closed"):
            raise SettingsError("SCOREMATE_REGISTRATION must be 'open' or 'closed'")
        if self.log_level.upper() not in _LOG_LEVELS:
            raise SettingsError(f"SCOREMATE_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")
        for name in _RATES:  # parsed now, so that a bad value fails at start
            try:
                parse_rate(getattr(self, name))
            except SettingsError as error:
                raise SettingsError(f"SCOREMATE_{name.upper()}: {error}") from None
        if self.jwt_secret and len(self.jwt_secret) < MIN_SECRET_LENGTH:
            raise SettingsError(f"SCOREMATE_JWT_SECRET must have at least {MIN_SECRET_LENGTH} characters")
        for name, bounds in numeric_bounds().items():
            value = getattr(self, name)
            if not _within(value, bounds):
                raise SettingsError(f"SCOREMATE_{name.upper()} must be {describe_bounds(bounds)}, not {value!r}")
        if self.worker_heartbeat_ttl_seconds < 2 * self.worker_heartbeat_seconds:
            raise SettingsError(
                "SCOREMATE_WORKER_HEARTBEAT_TTL_SECONDS must be at least twice SCOREMATE_WORKER_HEARTBEAT_SECONDS"
            )
        if self.worker_heartbeat_ttl_seconds >= self.task_idle_timeout_seconds:
            raise SettingsError(
                "SCOREMATE_WORKER_HEARTBEAT_TTL_SECONDS must be below SCOREMATE_TASK_IDLE_TIMEOUT_SECONDS"
            )
        if self.page_thumbnails_seconds >= self.task_idle_timeout_seconds:
            raise SettingsError("SCOREMATE_PAGE_THUMBNAILS_SECONDS must be below SCOREMATE_TASK_IDLE_TIMEOUT_SECONDS")
        if self.database_url and not self.database_url.startswith(_DATABASE_SCHEMES):
            raise SettingsError(f"SCOREMATE_DATABASE_URL must start with {' or '.join(_DATABASE_SCHEMES)}")
        if self.public_base_url and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", self.public_base_url):
            raise SettingsError("SCOREMATE_PUBLIC_BASE_URL must be an http:// or https:// URL")
        for proxy in self.trusted_proxies:
            if proxy != "*":
                try:
                    ipaddress.ip_network(proxy, strict=False)
                except ValueError:
                    raise SettingsError(f"SCOREMATE_TRUSTED_PROXIES: not an address or network: {proxy!r}") from None


_RATES = (
    "login_failure_limit",
    "login_address_failure_limit",
    "login_email_failure_limit",
    "upload_rate_limit",
    "score_action_rate_limit",
    "register_rate_limit",
)
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_DATABASE_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _field_types() -> dict[str, Any]:
    return get_type_hints(Settings, include_extras=True)


def numeric_bounds() -> dict[str, Meta]:
    """The declared bounds of every numeric setting, by field name; a numeric field without them is a bug."""
    found = {}
    for name, hint in _field_types().items():
        base, *extras = get_args(hint) if get_origin(hint) is Annotated else (hint,)
        if base not in (int, float):
            continue
        bounds = [extra for extra in extras if isinstance(extra, Meta)]
        if len(bounds) != 1:
            raise TypeError(f"Settings.{name} is numeric: declare its bounds with one msgspec Meta (gt, ge, le)")
        found[name] = bounds[0]
    return found


def _within(value: float, bounds: Meta) -> bool:
    return (
        math.isfinite(value)
        and (bounds.gt is None or value > bounds.gt)
        and (bounds.ge is None or value >= bounds.ge)
        and (bounds.lt is None or value < bounds.lt)
        and (bounds.le is None or value <= bounds.le)
    )


def describe_bounds(bounds: Meta) -> str:
    """'a number above 0', 'a number from 1 to 65535', '0 (off) or more' ..."""
    low = f"above {bounds.gt}" if bounds.gt is not None else f"{bounds.ge} or more" if bounds.ge is not None else ""
    high = f"below {bounds.lt}" if bounds.lt is not None else f"at most {bounds.le}" if bounds.le is not None else ""
    if bounds.ge is not None and bounds.le is not None:
        return f"a number from {bounds.ge} to {bounds.le}"
    return "a number " + " and ".join(part for part in (low, high) if part)


def _convert(name: str, hint: Any, raw: str) -> Any:
    kind = get_args(hint)[0] if get_origin(hint) is Annotated else hint
    origin = get_origin(kind)
    try:
        if kind is bool:
            if raw.lower() not in _TRUE | _FALSE:
                raise ValueError(f"not one of {', '.join(sorted(_TRUE | _FALSE))}: {raw!r}")
            return raw.lower() in _TRUE
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Path:
            return Path(raw)
        if origin is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError as error:
        raise SettingsError(f"SCOREMATE_{name.upper()}: {error}") from error
    if origin is Literal:
        return raw.lower()
    return raw


def _read_env_file(path: Path) -> dict[str, str]:
    return parse_env_file(path.read_text()) if path.is_file() else {}


def parse_env_file(text: str) -> dict[str, str]:
    """`KEY=value` lines as docker compose reads their simple form: `export` allowed, quotes removed, and
    outside quotes ` #` starts a comment (no escapes, no `${VAR}` expansion)."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        quoted = re.match(r"""^\s*(['"])(.*?)\1""", value)
        values[key.strip().removeprefix("export ").strip()] = (
            quoted.group(2) if quoted else re.split(r"\s+#", value, maxsplit=1)[0].strip()
        )
    return values
