"""Connecting to Neo4j and running mmkg's queries, with driver errors mapped to mmkg's.

Create one :class:`Graph` per process (``Graph.connect(settings)``) and pass it in; library
code never opens drivers of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import neo4j
from neo4j import exceptions as neo4j_errors

from mmkg.errors import (
    ConfigError,
    MmkgError,
    Neo4jAuthError,
    Neo4jUnavailableError,
    QueryError,
    RetryableError,
)
from mmkg.graph_schema import queries as Q
from mmkg.platform.neo4j_server.credentials import read_credentials
from mmkg.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


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
            max_transaction_retry_time=settings.neo4j_retry_seconds,
            notifications_min_severity="OFF",
        )


@dataclass
class Graph:
    """A driver bound to one database: what mmkg's library functions take."""

    driver: neo4j.Driver
    database: str
    uri: str

    @classmethod
    def connect(cls, settings: Settings, verify: bool = True) -> Graph:
        driver = open_driver(settings)
        graph = cls(driver=driver, database=settings.neo4j_database, uri=settings.uri)
        if verify:
            try:
                graph.verify()
            except MmkgError:
                driver.close()
                raise
        return graph

    def verify(self) -> None:
        """Fail fast (no retries) unless the database answers."""
        with translate_errors(self.uri), self.driver.session(database=self.database) as session:
            session.run(Q.PING).consume()

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(
        self, query: str, params: Mapping[str, Any] | None, routing: neo4j.RoutingControl
    ) -> neo4j.EagerResult:
        with translate_errors(self.uri):
            # execute_query retries transient failures in a managed transaction.
            return self.driver.execute_query(
                query, dict(params or {}), database_=self.database, routing_=routing
            )

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
        with translate_errors(self.uri), self.driver.session(database=self.database) as session:
            return session.execute_read(work)

    def run_autocommit(self, query: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement outside a managed transaction (schema commands need this)."""
        with translate_errors(self.uri), self.driver.session(database=self.database) as session:
            session.run(query, dict(params or {})).consume()


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
