"""Connecting to Neo4j and running mmkg's queries, with driver errors mapped to mmkg's.

Create one :class:`Graph` per process (``Graph.connect(settings)``) and pass it in; library
code never opens drivers of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import neo4j
from neo4j import NotificationClassification
from neo4j import exceptions as neo4j_errors

from mmkg.errors import (
    ConfigError,
    MmkgError,
    Neo4jAuthError,
    Neo4jRateLimitedError,
    Neo4jUnavailableError,
    QueryError,
    RetryableError,
)
from mmkg.graph_schema import queries as Q
from mmkg.platform.neo4j_server.credentials import read_credentials
from mmkg.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
DEPRECATION = NotificationClassification.DEPRECATION
# Every classification of notice but deprecations: nothing else is read.
_QUIET: list[Any] = [
    c.value
    for c in NotificationClassification
    if c not in (NotificationClassification.DEPRECATION, NotificationClassification.UNKNOWN)
]


def resolve_auth(settings: Settings) -> tuple[str, str] | None:
    """Credentials to connect with: MMKG_NEO4J_PASSWORD, else the managed server's file."""
    if settings.neo4j_password is not None:
        return settings.neo4j_user, settings.neo4j_password.get_secret_value()
    creds = read_credentials(settings.credentials_file)
    if creds is not None:
        return creds.user, creds.password
    if settings.uses_managed_server and not settings.neo4j_auth:
        return None
    if settings.uses_managed_server:
        if (settings.neo4j_dir / "data" / "databases" / "system").is_dir():
            raise ConfigError(
                f"no Neo4j credentials: {settings.credentials_file} is missing, but the managed "
                "server has a password; set MMKG_NEO4J_PASSWORD if you know it, or give it a "
                "new one with `mmkg neo4j reset-password` (its data stays)"
            )
        raise ConfigError(
            f"no Neo4j credentials: {settings.credentials_file} does not exist yet; "
            "start the managed server with `mmkg neo4j start` or set MMKG_NEO4J_PASSWORD"
        )
    raise ConfigError(f"set MMKG_NEO4J_PASSWORD to connect to {settings.uri}")


@contextmanager
def translate_errors(uri: str) -> Iterator[None]:
    """Map the driver's exceptions onto mmkg's tree, with advice on what to do."""
    try:
        yield
    except MmkgError:
        raise
    except neo4j_errors.AuthError as e:
        if "RateLimit" in (e.code or ""):
            raise Neo4jRateLimitedError(
                f"Neo4j at {uri} is refusing logins for a few seconds after repeated wrong "
                "passwords (a temporary lock-out); retrying shortly succeeds"
            ) from e
        raise Neo4jAuthError(
            f"Neo4j at {uri} refused the credentials ({e.message}); check MMKG_NEO4J_USER and "
            "MMKG_NEO4J_PASSWORD, or the credentials file under MMKG_HOME/neo4j"
        ) from e
    except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired, OSError) as e:
        raise Neo4jUnavailableError(
            f"cannot reach Neo4j at {uri} ({e}); start it with `mmkg neo4j start`, "
            "or set MMKG_NEO4J_URI to a running server"
        ) from e
    except neo4j_errors.TransientError as e:
        raise RetryableError(f"transient Neo4j error: {e.message}") from e
    except neo4j_errors.Neo4jError as e:
        if "AuthenticationRateLimit" in (e.code or ""):
            raise Neo4jRateLimitedError(
                f"Neo4j at {uri} is refusing logins for a few seconds after repeated wrong "
                "passwords (a temporary lock-out); retrying shortly succeeds"
            ) from e
        raise QueryError(f"Neo4j rejected the query: {e.code}: {e.message}") from e
    except neo4j_errors.DriverError as e:
        raise Neo4jUnavailableError(f"Neo4j driver error talking to {uri}: {e}") from e


def open_driver(settings: Settings) -> neo4j.Driver:
    """A new driver for the configured server (the caller owns and closes it)."""
    auth = resolve_auth(settings)
    with translate_errors(settings.uri):
        return neo4j.GraphDatabase.driver(
            settings.uri,
            auth=auth,
            max_connection_lifetime=3600,
            connection_acquisition_timeout=60,
            # Graph retries itself, against a deadline: the driver's own backoff doubles its
            # delay after the deadline is nearly spent and can give up at twice the setting.
            max_transaction_retry_time=0,
            # Deprecation notices are WARNINGs; only ask for them when someone reads them, and
            # for nothing else (the driver would log every "label does not exist").
            notifications_min_severity=(
                "OFF" if settings.neo4j_deprecations == "ignore" else "WARNING"
            ),
            notifications_disabled_classifications=_QUIET,
        )


# How long a login refused by Neo4j's rate limit (after repeated wrong passwords) is retried.
_RATE_LIMIT_WAIT = 12.0
# Backoff between retries of a failed transaction: first delay, growth, cap (seconds).
_RETRY_FIRST, _RETRY_GROWTH, _RETRY_CAP = 0.5, 2.0, 4.0


def retry_until(deadline_s: float, attempt: Callable[[], T]) -> T:
    """Run ``attempt`` until it succeeds, retrying transient and connection failures with a
    capped backoff, and give up with the last error once ``deadline_s`` seconds have passed.

    The bound is real: no sleep runs past the deadline, so a lost server is reported within
    ``deadline_s`` plus one attempt.
    """
    deadline = time.monotonic() + deadline_s
    delay = _RETRY_FIRST
    while True:
        try:
            return attempt()
        except (RetryableError, Neo4jUnavailableError) as e:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            wait = min(delay, left)
            log.warning("Neo4j transaction failed (%s); retrying in %.1f s", e, wait)
            time.sleep(wait)
            delay = min(delay * _RETRY_GROWTH, _RETRY_CAP)


@dataclass
class Graph:
    """A driver bound to one database: what mmkg's library functions take.

    ``managed`` marks the server mmkg runs itself (schema migrations are applied on it
    automatically); ``deprecations`` says what a deprecation notice about one of mmkg's own
    queries does: ``ignore``, ``warn`` (log it) or ``error`` (raise; the test suite's setting).
    """

    driver: neo4j.Driver
    database: str
    uri: str
    managed: bool = False
    deprecations: str = "ignore"
    retry_seconds: float = 30.0
    schema_current: bool = field(default=False, repr=False)

    @classmethod
    def connect(cls, settings: Settings, verify: bool = True) -> Graph:
        driver = open_driver(settings)
        graph = cls(
            driver=driver,
            database=settings.neo4j_database,
            uri=settings.uri,
            managed=settings.uses_managed_server,
            deprecations=settings.neo4j_deprecations,
            retry_seconds=settings.neo4j_retry_seconds,
        )
        if verify:
            try:
                graph.verify()
            except MmkgError:
                driver.close()
                raise
        return graph

    def verify(self) -> None:
        """Fail fast unless the database answers; a login refused by the server's temporary
        rate limit is waited out (a few seconds), since it is no credentials problem."""
        deadline = time.monotonic() + _RATE_LIMIT_WAIT
        while True:
            try:
                with (
                    translate_errors(self.uri),
                    self.driver.session(database=self.database) as session,
                ):
                    session.run(Q.PING).consume()
                return
            except Neo4jRateLimitedError:
                if time.monotonic() > deadline:
                    raise
                log.info("Neo4j rate-limits logins after wrong passwords; retrying in 1 s")
                time.sleep(1.0)

    def check_summary(self, summary: neo4j.ResultSummary, query: str) -> None:
        """Act on deprecation notices the server attached to one of mmkg's queries."""
        if self.deprecations == "ignore":
            return
        for status in summary.gql_status_objects:
            if not status.is_notification or status.classification != DEPRECATION:
                continue
            message = (
                f"Neo4j deprecates part of an mmkg query ({status.gql_status}: "
                f"{status.status_description}): {query[:300]}"
            )
            if self.deprecations == "error":
                raise QueryError(message)
            log.warning(message)

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(
        self, query: str, params: Mapping[str, Any] | None, routing: neo4j.RoutingControl
    ) -> neo4j.EagerResult:
        def attempt() -> neo4j.EagerResult:
            with translate_errors(self.uri):
                return self.driver.execute_query(
                    query, dict(params or {}), database_=self.database, routing_=routing
                )

        result = retry_until(self.retry_seconds, attempt)
        self.check_summary(result.summary, query)
        return result

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query and return its rows as dicts."""
        result = self._execute(query, params, neo4j.RoutingControl.READ)
        return [record.data() for record in result.records]

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> neo4j.SummaryCounters:
        """Run a write query in one transaction and return its counters."""
        return self._execute(query, params, neo4j.RoutingControl.WRITE).summary.counters

    def write_rows(
        self, query: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run a write query in one transaction and return its rows as dicts."""
        return self.write_result(query, params)[0]

    def write_result(
        self, query: str, params: Mapping[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], neo4j.SummaryCounters]:
        """Run a write query in one transaction; return its rows and its counters."""
        result = self._execute(query, params, neo4j.RoutingControl.WRITE)
        return [record.data() for record in result.records], result.summary.counters

    def read_transaction(self, work: Callable[[neo4j.ManagedTransaction], T]) -> T:
        """Run ``work`` in one read transaction (one consistent snapshot), with retries."""

        def attempt() -> T:
            with (
                translate_errors(self.uri),
                self.driver.session(database=self.database) as session,
            ):
                return session.execute_read(work)

        return retry_until(self.retry_seconds, attempt)

    def run_autocommit(self, query: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement outside a managed transaction (schema commands need this)."""
        with translate_errors(self.uri), self.driver.session(database=self.database) as session:
            summary = session.run(query, dict(params or {})).consume()
        self.check_summary(summary, query)


def ping(settings: Settings) -> None:
    """Raise :class:`Neo4jUnavailableError` unless the configured database answers."""
    with Graph.connect(settings, verify=True):
        pass


def server_version(settings: Settings) -> str:
    """The version string of the Neo4j kernel answering at the configured URI."""
    with Graph.connect(settings, verify=False) as graph:
        rows = graph.read(Q.SERVER_COMPONENTS)
    kernel = next((r for r in rows if r["name"] == "Neo4j Kernel"), rows[0] if rows else None)
    if kernel is None:
        raise QueryError("dbms.components() returned nothing")
    return f"{kernel['version']} {kernel['edition']}"
