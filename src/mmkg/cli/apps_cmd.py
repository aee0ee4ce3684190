"""``mmkg ask`` (question answering) and ``mmkg recommend``: the applications."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mmkg.cli.common import JSON_OPTION, STATE, connect, handle_errors, load_settings, print_json
from mmkg.cli.link_cmd import read_documents


def _show_answer(result: Any) -> None:
    r = result.reading
    if r is None:
        typer.echo(f"{result.question}\n  {result.notes[0]}")
        if result.suggestions:
            names = ", ".join(f"{s['name'] or s['id']} ({s['id']})" for s in result.suggestions)
            typer.echo(f"  closest names: {names}")
        return
    path = " → ".join(f"{rel}{'' if side == 'tail' else ' (inverse)'}" for rel, side in r.path)
    typer.echo(f"{result.question}\n  read as: {r.entity_name or r.entity} ({r.entity}) → {path}")
    if not result.answers:
        typer.echo("  no answer")
    for a in result.answers:
        how = "fact" if a.source == "graph" else "predicted"
        extra = ""
        if a.source != "graph":
            extra = f" score {a.score}" + (
                f", probability {a.probability:.3f}" if a.probability is not None else ""
            )
        typer.echo(f"  {a.rank}. {a.name or a.id} ({a.id}) [{how}{extra}]")
        steps = "; ".join(f"{e['head']} —{e['relation']}→ {e['tail']}" for e in a.evidence)
        typer.echo(f"     evidence: {steps}")
        for m in a.media:
            typer.echo(f"     {m['kind']}: {m['id']} {m.get('uri') or m.get('title') or ''}")


@handle_errors
def ask(
    question: str | None = typer.Argument(None, help="The question, in English."),
    file: Path | None = typer.Option(None, "--file", "-f", help="One question per line."),
    image: Path | None = typer.Option(
        None, "--image", help="A picture the question is about ('Where was this person born?')."
    ),
    k: int = typer.Option(5, "-k", "--k", min=1, max=100, help="Answers per question."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Answer questions from the graph's facts, else by link prediction (marked as predicted,
    with the model's score and calibrated probability), with the evidence path and the media of
    each answer. Reads one- and two-hop questions ("Where was the director of Titanic born?").
    """
    from mmkg.platform.qa.answer import QuestionAnswerer

    if (question is None) == (file is None):
        raise typer.BadParameter("give a QUESTION or --file F (one question per line), not both")
    if image is not None and not image.is_file():
        raise typer.BadParameter(f"--image {image}: no such file")
    questions = [question or ""] if file is None else read_documents(file)
    if file is not None and not any(q.strip() for q in questions):
        raise typer.BadParameter(f"--file {file}: no questions in it")
    numbered = [(n + 1, q) for n, q in enumerate(questions) if q.strip()]
    settings = load_settings()
    quiet = False if STATE.quiet else None
    with connect() as graph:
        qa = QuestionAnswerer.from_graph(graph, settings, show_progress=quiet)
        results = qa.ask_many([q for _, q in numbered], image, k, show_progress=quiet)
    if as_json:
        print_json(
            [
                {**({"line": n} if file is not None else {}), **r.to_dict()}
                for (n, _), r in zip(numbered, results, strict=True)
            ]
        )
    else:
        for r in results:
            _show_answer(r)
        for note in results[0].notes[1 if results[0].reading is None else 0 :]:
            typer.echo(f"note: {note}")
    if file is None and results[0].reading is None:
        raise typer.Exit(1)


@handle_errors
def recommend(
    user: str | None = typer.Argument(None, help="The user's id (as in the interaction log)."),
    k: int = typer.Option(10, "-k", "--k", min=1, max=1000, help="How many items."),
    do_fit: bool = typer.Option(
        False, "--fit", help="Fit the recommender on the graph's interactions and publish it."
    ),
    modalities: str = typer.Option(
        "structure,text,image",
        "--modalities",
        help="--fit: what item vectors are built from: structure (the serving run's KG "
        "embeddings), text (name and description vectors), image (pooled media features).",
    ),
    epochs: int = typer.Option(40, "--epochs", min=1, help="--fit: training epochs."),
    dim: int = typer.Option(64, "--dim", min=2, max=4096, help="--fit: vector size."),
    catalogue_threshold: float = typer.Option(
        0.5,
        "--catalogue-threshold",
        min=0.0,
        max=1.0,
        help="--fit: entities whose facts resemble the interacted items' this much become "
        "candidates too (cold-start items).",
    ),
    no_explain: bool = typer.Option(False, "--no-explain", help="Skip the explanation paths."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Recommend items to USER (excluding what they have), each with an explanation path
    user → item → shared entity → recommendation read from the graph; or --fit the recommender.
    """
    from mmkg.platform.recommend.graph import fit_recommender
    from mmkg.platform.recommend.graph import recommend as recommend_items
    from mmkg.platform.recommend.model import FitConfig

    if user is None and not do_fit:
        raise typer.BadParameter("give a USER, or --fit to fit the recommender first")
    settings = load_settings()
    quiet = False if STATE.quiet else None
    with connect() as graph:
        if do_fit:
            names = tuple(m.strip() for m in modalities.split(",") if m.strip())
            summary = fit_recommender(
                graph,
                settings,
                FitConfig(dim=dim, epochs=epochs),
                names,
                catalogue_threshold,
                show_progress=quiet,
            )
            if as_json and user is None:
                print_json(summary.to_dict())
            elif not as_json:
                built = ", ".join(f["name"] for f in summary.features) or "interactions only"
                typer.echo(
                    f"recommender {summary.run}: {summary.users} users, {summary.interactions} "
                    f"interactions, {summary.items} items ({summary.cold_items} without "
                    f"interactions), from {built} in {summary.seconds:.1f} s"
                )
                for note in summary.notes:
                    typer.echo(f"note: {note}")
        if user is None:
            return
        recs = recommend_items(graph, user, k, explain=not no_explain)
    if as_json:
        print_json([r.to_dict() for r in recs])
        return
    for r in recs:
        typer.echo(f"{r.rank}. {r.name or r.id} ({r.id}) score {r.score:.3f}")
        if r.because:
            b = r.because
            typer.echo(
                f"   because you have {b['item']['name'] or b['item']['id']}, linked to "
                f"{b['shared']['name'] or b['shared']['id']}: "
                + "; ".join(f"{p['head']} —{p['relation']}→ {p['tail']}" for p in b["path"][1:])
            )
