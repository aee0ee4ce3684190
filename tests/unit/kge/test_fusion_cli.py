"""Fusion from the command line on files: `mmkg train --features … --fusion attention`, then
`mmkg eval` placing entities the run never saw from their features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mmkg.cli.main import app

GROUPS = 4


def _write(folder: Path, triples: list[tuple[str, str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = sorted(set(triples))
    cut = len(rows) // 10
    (folder / "train.txt").write_text("".join(f"{h}\t{r}\t{t}\n" for h, r, t in rows[cut:]))
    (folder / "valid.txt").write_text("".join(f"{h}\t{r}\t{t}\n" for h, r, t in rows[:cut]))


def _features(path: Path, ids: list[str], rng: np.random.Generator) -> None:
    lines = []
    for e in ids:
        group = int(e[1:]) % GROUPS
        vec = np.eye(GROUPS)[group] + rng.normal(0, 0.05, GROUPS)
        lines.append(e + "\t" + " ".join(f"{x:.4f}" for x in vec))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_eval_places_entities_the_run_never_saw_from_their_features(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMKG_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    seen = [f"e{i}" for i in range(60)]
    triples = []
    for _ in range(1200):
        h = int(rng.integers(60))
        t = int(rng.choice([i for i in range(60) if i % GROUPS == h % GROUPS]))
        triples.append((f"e{h}", "same_group", f"e{t}"))
    _write(tmp_path / "kg", triples)
    _features(tmp_path / "kg" / "feat.tsv", seen, rng)
    run = tmp_path / "run"
    train = CliRunner().invoke(app, [
        "-q", "train", "--data", str(tmp_path / "kg"), "--model", "distmult", "--dim", "16",
        "--epochs", "30", "--negatives", "16", "--batch-size", "128", "--lr", "0.05",
        "--no-compile", "--eval-every", "0", "--features", f"text={tmp_path / 'kg' / 'feat.tsv'}",
        "--fusion", "attention", "--align-weight", "0.2", "--dense-lr", "0.01",
        "--out", str(run), "--json",
    ])  # fmt: skip
    assert train.exit_code == 0, train.output
    assert json.loads(train.stdout)["fusion"]["modalities"]["text"]["source"] == "file:feat.tsv"

    # A new dataset: the same graph plus 8 entities the run has never heard of.
    new = [f"e{60 + i}" for i in range(8)]
    later = tmp_path / "later"
    later.mkdir()
    (later / "train.txt").write_text((tmp_path / "kg" / "train.txt").read_text())
    test_rows = []
    for e in new:
        partner = next(s for s in seen if int(s[1:]) % GROUPS == int(e[1:]) % GROUPS)
        test_rows += [f"{e}\tsame_group\t{partner}", f"{partner}\tsame_group\t{e}"]
    (later / "test.txt").write_text("\n".join(test_rows) + "\n")
    _features(later / "feat.tsv", seen + new, rng)

    plain = CliRunner().invoke(app, ["-q", "eval", str(run), "--data", str(later)])
    assert plain.exit_code != 0
    assert "all 16 triple(s) of the test split" in plain.output
    assert "places new entities from their features" in plain.output

    placed = CliRunner().invoke(
        app, ["-q", "eval", str(run), "--data", str(later), "--features",
              f"text={later / 'feat.tsv'}"],
    )  # fmt: skip
    assert placed.exit_code == 0, placed.output
    out = json.loads(placed.stdout)
    assert out["cold_start"] == {"new_entities": 8, "placed_from_features": 8}
    unseen = out["unseen_entity_triples"]
    assert unseen["triples"] == 16
    # 17 of the 68 entities share each new one's group: placed there, it ranks its partner
    # far above chance (MRR about 0.07 for a random vector).
    assert unseen["mrr"] > 0.15 and unseen["hits@10"] >= 0.4, unseen

    other = later / "other.tsv"
    other.write_text((later / "feat.tsv").read_text())
    refused = CliRunner().invoke(
        app, ["eval", str(run), "--data", str(later), "--features", f"text={other}"]
    )
    assert refused.exit_code != 0
    assert "trained on features of file:feat.tsv" in refused.output
    assert "these are of file:other.tsv" in refused.output
