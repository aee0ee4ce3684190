"""``mmkg serve`` (the workbench and REST API) and ``mmkg api-key create | list | revoke``."""

from __future__ import annotations

import typer

from mmkg.cli.common import (
    JSON_OPTION,
    connect,
    handle_errors,
    load_settings,
    print_json,
    print_table,
)

api_key_app = typer.Typer(help="API keys of the web API and workbench.", no_args_is_help=True)


@handle_errors
def serve(
    host: str = typer.Option(None, "--host", help="Address to listen on (MMKG_WEB_HOST, "
                             "default 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Port (MMKG_WEB_PORT, "
                             "default 8000)."),
    detach: bool = typer.Option(False, "--detach", help="Run in the background (one per "
                                "MMKG_HOME; log in MMKG_HOME/web/web.log)."),
    stop: bool = typer.Option(False, "--stop", help="Stop the background workbench."),
) -> None:  # fmt: skip
    """Serve the workbench (search, entity pages, jobs) and the REST API under /api/v1.

    Needs an API key to log in or call the API: `mmkg api-key create`.
    """
    from mmkg.web import daemon

    settings = load_settings()
    if stop:
        typer.echo("workbench stopped" if daemon.stop(settings) else "no workbench was running")
        return
    if detach:
        bench = daemon.start(settings, host, port)
        state = "started" if bench.started_now else "already running"
        typer.echo(f"mmkg workbench {state} at {bench.url} (pid {bench.pid}, log {bench.log})")
        return
    import uvicorn

    from mmkg.web import create_app

    host = host or settings.web_host
    port = port or settings.web_port
    app = create_app(settings)
    typer.echo(f"mmkg workbench on http://{host}:{port}/ (API: http://{host}:{port}/api/v1/, "
               f"spec /api/v1/openapi.json); Ctrl-C stops it")  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)


@api_key_app.command("create")
@handle_errors
def create(
    scope: str = typer.Option("read", "--scope", help="read (search, entities, predictions, "
                              "jobs) or write (also ingest)."),
    name: str = typer.Option("", "--name", help="Who or what the key is for."),
    as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Create an API key. It is printed once and stored only as a hash."""
    from mmkg.platform.api_keys import create_key

    with connect() as graph:
        key, token = create_key(graph, scope, name)
    if as_json:
        print_json({"id": key.id, "scope": key.scope, "name": key.name, "key": token})
        return
    typer.echo(token)
    typer.echo(f"(key {key.id}, scope {key.scope}; shown once: keep it now)", err=True)


@api_key_app.command("list")
@handle_errors
def list_cmd(as_json: bool = JSON_OPTION) -> None:
    """The keys (ids, scopes, names, dates); never the keys themselves."""
    from mmkg.platform.api_keys import list_keys

    with connect() as graph:
        rows = list_keys(graph)
    if as_json:
        print_json(rows)
        return
    columns = ["id", "scope", "name", "created_at", "revoked_at"]
    print_table(columns, [[r.get(c) for c in columns] for r in rows])


@api_key_app.command("revoke")
@handle_errors
def revoke(
    key_id: str = typer.Argument(..., help="The key's id (from `mmkg api-key list`)."),
) -> None:
    """Revoke a key: it stops working within 30 seconds on every server."""
    from mmkg.platform.api_keys import revoke_key

    with connect() as graph:
        if not revoke_key(graph, key_id):
            typer.secho(f"no API key {key_id!r}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")
