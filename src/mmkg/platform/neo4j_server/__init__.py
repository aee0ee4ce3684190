"""The managed local Neo4j server: installed from Maven Central, started and stopped by mmkg."""

from mmkg.platform.neo4j_server.process import (
    ServerStatus,
    server_status,
    start_server,
    stop_server,
)

__all__ = ["ServerStatus", "server_status", "start_server", "stop_server"]
