"""The exception tree of mmkg.

Every error the package raises on purpose derives from :class:`MmkgError`, so callers can
catch one class. :class:`RetryableError` marks conditions that may pass by themselves (a
server that is starting, a dropped connection); task queues can target it for automatic
retries.
"""

from __future__ import annotations


class MmkgError(Exception):
    """Root of all mmkg errors."""


class ConfigError(MmkgError):
    """A setting is missing or invalid."""


class RetryableError(MmkgError):
    """A transient failure: the same call may succeed later."""


class Neo4jUnavailableError(RetryableError):
    """The Neo4j server cannot be reached."""


class Neo4jAuthError(MmkgError):
    """The Neo4j server refused the credentials."""


class Neo4jRateLimitedError(RetryableError):
    """The server refuses logins for a few seconds after repeated wrong passwords."""


class Neo4jServerError(MmkgError):
    """The managed Neo4j server could not be installed, started or stopped."""


class QueryError(MmkgError):
    """A Cypher statement failed for a reason that retrying will not fix."""


class SchemaError(MmkgError):
    """The graph schema is invalid, or an identifier failed validation."""


class IngestError(MmkgError):
    """Input data could not be loaded."""


class ExportError(MmkgError):
    """The graph could not be exported."""


class DataError(MmkgError):
    """A training dataset is missing, malformed or unusable (names the file and line)."""


class TrainingError(MmkgError):
    """Training or evaluation of an embedding model failed (names the step and the cause)."""


class ResourceLimitError(MmkgError):
    """A job would need more memory than allowed; raised before anything is allocated."""


class ServingError(MmkgError):
    """Link prediction or an embedding run cannot be served (no active run, unknown entity,
    plugin missing); the message is the server's reason."""


# --- serving: each carries the stable code the Neo4j plugin puts in front of its message ----
class UnknownEntityError(ServingError):
    """MMKG-E001: no :Entity has the id given."""


class UnknownUserError(ServingError):
    """MMKG-E012: no :User has the id given (users come from `mmkg ingest interactions`)."""


class UnknownRelationError(ServingError):
    """MMKG-E002: no :RelationType has the name or type given."""


class NoActiveRunError(ServingError):
    """MMKG-E003: no embedding run is active and none was named."""


class UnknownRunError(ServingError):
    """MMKG-E004: no embedding run has the id given."""


class RunNotReadyError(ServingError):
    """MMKG-E005: the run exists but its write has not finished (or it is being dropped)."""


class MissingEmbeddingError(ServingError):
    """MMKG-E006: the entity or relation has no vector in the run (added after training?)."""


class InvalidRequestError(ServingError):
    """MMKG-E007: an argument or option of a procedure is invalid."""


class CacheMemoryError(ServingError, ResourceLimitError):
    """MMKG-E008: loading the run into the plugin's cache would exceed its memory budget."""


class NoVectorIndexError(ServingError):
    """MMKG-E009: ANN was asked for a run without a vector index or cached ANN structure."""


class StaleKeyError(ServingError):
    """MMKG-E010: an element id no longer names the node it named (deleted and reused)."""


class RunCorruptError(ServingError):
    """MMKG-E011: the run's node or vectors are inconsistent (rewrite the run)."""
