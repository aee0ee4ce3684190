"""``mmkg neo4j start | stop | status``: the managed local server."""

from __future__ import annotations

from pathlib import Path

import typer

from mmkg.cli.common import JSON_OPTION, handle_errors, load_settings, print_json
from mmkg.platform.neo4j_server import server_status, start_server, stop_server
from mmkg.platform.neo4j_server.plugin import ensure_plugin, install_plugin
from mmkg.platform.neo4j_server.process import ServerStatus

app = typer.Typer(help="Run the managed local Neo4j 5.26 server.", no_args_is_help=True)


def _show(status: ServerStatus, as_json: bool) -> None:
    if as_json:
        print_json(status.to_dict())
        return
    state = "running" if status.running else "not running"
    typer.echo(f"Neo4j {state} at {status.uri}")
    if status.version:
        typer.echo(f"  version:     {status.version}")
    if status.pid:
        typer.echo(f"  pid:         {status.pid}")
    typer.echo(f"  home:        {status.home}")
    if status.browser_url:
        typer.echo(f"  browser:     {status.browser_url} (log in as neo4j)")
    if status.credentials_file:
        typer.echo(f"  credentials: {status.credentials_file} (user neo4j)")
    elif not status.auth:
        typer.echo("  credentials: none (authentication is off)")
    if status.message and not status.running:
        typer.echo(f"  {status.message}")


@app.command()
@handle_errors
def start(
    browser: bool = typer.Option(
        False,
        "--browser",
        help="Also serve Neo4j Browser on 127.0.0.1:MMKG_NEO4J_HTTP_PORT "
        "(default 7474; same as MMKG_NEO4J_BROWSER=true).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Start the server (downloading it once with Maven) and wait until Bolt answers.

    Idempotent: when the server already runs, this only reports it.
    """
    settings = load_settings()
    if browser:
        settings = settings.model_copy(update={"neo4j_browser": True})
    status = start_server(settings)
    _show(status, as_json)


@app.command()
@handle_errors
def stop() -> None:
    """Stop the server gracefully."""
    if stop_server(load_settings()):
        typer.echo("Neo4j stopped")
    else:
        typer.echo("Neo4j was not running")


@app.command()
@handle_errors
def status(as_json: bool = JSON_OPTION) -> None:
    """Whether the server runs: URI, pid, version and where the credentials live.

    Exits 0 when the server answers, 3 when it does not.
    """
    result = server_status(load_settings())
    _show(result, as_json)
    if not result.running:
        raise typer.Exit(3)


@app.command()
@handle_errors
def plugin(
    install_to: str = typer.Option(
        None,
        "--install-to",
        help="Also copy the jar into this plugins/ folder of your own Neo4j 5.26 server.",
    ),
) -> None:
    """Build mmkg's Neo4j plugin (once per source change) and print the jar's path.

    `mmkg neo4j start` installs it into the managed server by itself. For your own server, copy
    the jar into its plugins/ folder (or use --install-to), allow the procedures with
    dbms.security.procedures.unrestricted=mmkg.* in neo4j.conf, and restart it.
    """
    settings = load_settings()
    jar = ensure_plugin(settings.resolved_cache_dir, settings.neo4j_version)
    if install_to:
        jar = install_plugin(jar, Path(install_to))
    typer.echo(str(jar))


@app.command("reset-password")
@handle_errors
def reset_password_cmd(
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from standard input."
    ),
) -> None:
    """Give the managed server a new password (for a lost or corrupt credentials file).

    The databases are kept: the server is restarted once with authentication off (on
    127.0.0.1 only) to change the password, then runs as before. The new password is written
    to the 0600 credentials file under MMKG_HOME.
    """
    import sys

    from mmkg.platform.neo4j_server.process import reset_password

    settings = load_settings()
    new = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and not new:
        raise typer.BadParameter("no password on standard input")
    creds = reset_password(settings, new)
    typer.echo(f"password of user {creds.user} reset; it is in {settings.credentials_file}")
