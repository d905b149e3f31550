"""`scoremate serve | worker | migrate | users`."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys

from entrypoints.cli_users import add_users_parser
from entrypoints.observability import configure_logging
from entrypoints.settings import Settings, SettingsError
from entrypoints.version import package_version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scoremate", description="ScoreMate sheet-music library server")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the HTTP API (and, embedded, the background tasks)",
        description="Run the HTTP API. Without SCOREMATE_REDIS_URL it also runs the background tasks in-process. "
        "Configuration comes from SCOREMATE_* variables and a .env file.",
    )
    serve.add_argument("--host", default=None, help="address to bind (default: SCOREMATE_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port to bind (default: SCOREMATE_PORT, else 8000)")
    serve.add_argument("--workers", type=int, default=1, help="API processes (needs SCOREMATE_REDIS_URL when > 1)")
    commands.add_parser(
        "worker",
        help="run a Taskiq worker for the Redis broker",
        description="Run background tasks (PDF processing, file clean-up, housekeeping) from the Redis stream. "
        "Needs SCOREMATE_REDIS_URL; run as many as you like.",
    )
    commands.add_parser(
        "worker-health",
        help="exit 0 if this container's worker is alive (a health check)",
        description="Succeeds while a `scoremate worker` sharing this SCOREMATE_DATA_DIR runs its event loop "
        "connected to the broker: it touches a heartbeat file every few seconds; a stale or missing one fails.",
    )
    commands.add_parser(
        "migrate",
        help="apply database migrations",
        description="Bring the database at SCOREMATE_DATABASE_URL to this version's schema (a current one is left "
        "alone). Run before starting API processes on Postgres; serve does it by itself on SQLite.",
    )
    add_users_parser(commands)
    args = parser.parse_args(argv)

    overrides = {name: getattr(args, name) for name in ("host", "port") if getattr(args, name, None) is not None}
    try:
        settings = Settings.from_env(**overrides)
    except SettingsError as error:
        print(f"scoremate: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings)
    # The embedded database (emails, password hashes), stored files and the generated secret are nobody else's.
    os.umask(0o077)

    if args.command == "serve":
        return _serve(settings, args.workers)
    if args.command == "worker-health":
        from entrypoints.worker.heartbeat import MAX_AGE_SECONDS, heartbeat_age

        age = heartbeat_age(settings)
        if age is None or age > MAX_AGE_SECONDS:
            seen = "never" if age is None else f"{age:.0f} s ago"
            print(f"scoremate worker-health: no heartbeat (last seen: {seen})")
            return 1
        return 0
    if args.command == "users":
        from entrypoints.cli_users import run_users_command

        return asyncio.run(run_users_command(settings, args))
    if args.command == "migrate":
        from adapters.sqlalchemy.migrate import head_revision, migrate

        try:
            asyncio.run(migrate(settings.effective_database_url))
        except Exception as error:  # an unreachable or refusing database: say so in one line
            print(f"scoremate: migrate failed: {type(error).__name__}: {error}".splitlines()[0], file=sys.stderr)
            return 1
        print(f"The database is migrated to revision {head_revision()}.")
        return 0
    if not settings.redis_url:
        print(
            f"scoremate {args.command} needs SCOREMATE_REDIS_URL (the embedded default runs tasks in `serve`).",
            file=sys.stderr,
        )
        return 2
    from entrypoints.worker.process import run_worker

    asyncio.run(run_worker(settings))
    return 0


def _serve(settings: Settings, workers: int) -> int:
    import uvicorn

    if workers > 1 and not settings.redis_url:
        print("--workers > 1 needs SCOREMATE_REDIS_URL: quota and tasks must be shared.", file=sys.stderr)
        return 2
    # The app factory reads settings itself in each worker process; pass the CLI's host and port through.
    os.environ["SCOREMATE_HOST"] = settings.host
    os.environ["SCOREMATE_PORT"] = str(settings.port)
    if workers > 1:
        _share_metrics_between_processes(settings)
        if settings.effective_database_url.startswith("sqlite"):
            # Once, before the API processes start: each migrates SQLite at start, and two at once collide.
            from adapters.sqlalchemy.migrate import migrate

            asyncio.run(migrate(settings.effective_database_url))
    uvicorn.run(
        "entrypoints.http.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        # uvicorn's httptools protocol with limits on headers, bodies and connections (see server_limits.py).
        http="entrypoints.http.server_limits:LimitedHttpToolsProtocol",
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
    )
    return 0


def _share_metrics_between_processes(settings: Settings) -> None:
    """Several API processes write their metrics to files that /metrics of any of them adds up."""
    directory = settings.data_dir.resolve() / "metrics" / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


if __name__ == "__main__":
    raise SystemExit(main())
