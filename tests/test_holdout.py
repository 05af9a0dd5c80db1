"""Evaluating a collection on its own Q/A pairs: the held-out pairs leave the copy that answers them, the test file
holds exactly them, bad requests are refused before anything changes, and the eval CLI's --holdout makes a run the
Results tab lists (a real all-MiniLM-L6-v2 collection, a tiny chat model)."""

import csv
import json
from pathlib import Path

import pytest

from studio.evaluation import evaluate, results
from studio.jobs.config import ConfigError
from studio.jobs.kinds import EvalJob
from studio.knowledge import holdout, store
from studio.knowledge.collection import KnowledgeError
from studio.knowledge.embeddings import available

pytestmark = pytest.mark.skipif(bool(available()), reason=available() or "embedding model installed")

PAIRS = [(f"How many {thing} does the club lend to members?", f"The club lends {n} {thing}.")
         for n, thing in enumerate(["helmets", "pumps", "locks", "lights", "maps", "bells", "racks", "tubes",
                                    "jerseys", "gloves", "bottles", "saddles"], start=2)]


@pytest.fixture
def knowledge(tmp_path, monkeypatch):
    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    monkeypatch.setenv("CQA_RUNS_DIR", str(tmp_path / "runs"))
    pairs = tmp_path / "lending.csv"
    with pairs.open("w", newline="") as f:
        csv.writer(f).writerows([("question", "answer"), *PAIRS])
    handbook = tmp_path / "handbook.md"
    handbook.write_text("# Handbook\n\n## Rides\n\nThe Sunday ride leaves at 6:30 am from the clock tower.\n")
    store.create("club", [pairs, handbook])
    store.create("docs-only", [handbook])
    return tmp_path


def test_the_copy_lacks_exactly_the_held_out_pairs_and_the_test_file_holds_them(knowledge):
    copy, test = holdout.hold_out("club", 4)
    assert copy == "club.heldout-4" and test.name == "club-heldout-4.csv"
    held = list(csv.DictReader(test.open()))
    assert len(held) == 4 and all((row["question"], row["answer"]) in PAIRS for row in held)
    assert all(row["source"].startswith("lending.csv row ") for row in held)
    left = [holdout.qa_pair(p) for p in store.passages(copy)]
    assert len([pair for pair in left if pair]) == len(PAIRS) - 4
    assert not {(row["question"], row["answer"]) for row in held} & set(left), "no held-out pair is left"
    assert any(p.file == "handbook.md" for p in store.passages(copy)), "documents stay"
    for row in held:  # searched in the copy, a held-out question no longer finds its own row
        assert all(row["answer"] not in p.text for p in store.retrieve(copy, row["question"], 3))
    assert store.meta(copy)["copied_from"] == "club" and len(store.passages("club")) == len(PAIRS) + 1
    first = test.read_text()
    again_copy, again = holdout.hold_out("club", 4)
    assert again_copy == copy and again.read_text() == first, "same pairs for the same n and seed"
    assert holdout.hold_out("club", 4, seed=1)[1].read_text() != first


@pytest.mark.parametrize("name, n, message", [
    ("club", len(PAIRS), "has 12 Q/A pairs: holding out 12 needs at least 17"),
    ("club", 0, "Hold out at least 1"),
    ("docs-only", 2, "has no Q/A pairs to hold out"),
    ("gone", 2, "No collection named 'gone'"),
])
def test_a_request_that_cannot_be_met_is_refused_and_changes_nothing(knowledge, name, n, message):
    before = store.list_collections()
    with pytest.raises(KnowledgeError, match=message):
        holdout.hold_out(name, n)
    assert store.list_collections() == before


def test_a_copy_is_not_held_out_again(knowledge):
    copy, _ = holdout.hold_out("club", 2)
    with pytest.raises(KnowledgeError, match="already a copy"):
        holdout.hold_out(copy, 2)


@pytest.mark.parametrize("fields, message", [
    ({"holdout": 3}, "holdout needs a knowledge collection"),
    ({"holdout": -1, "knowledge": "club"}, "holdout is a count"),
    ({"holdout": True, "knowledge": "club"}, "holdout must be a number"),
    ({"tests": [], "knowledge": "club"}, "may be empty with holdout"),
    ({"holdout": 501, "knowledge": "club", "tests": []}, "holdout must be at most 500"),
])
def test_bad_holdout_settings_are_refused(fields, message):
    with pytest.raises(ConfigError, match=message):
        job = EvalJob.from_dict({"model": "bundled:smollm2-135m-instruct", **fields})
        job.validate()
        job.check_limits()


def test_the_cli_scores_the_held_out_pairs_into_a_run_the_results_tab_lists(knowledge, tiny_models, capsys):
    code = evaluate.main(["--model", f"folder:{tiny_models['llama']}", "--knowledge", "club", "--holdout", "3",
                          "--max-new-tokens", "8", "--engine", "transformers"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "on club-heldout-3 with club.heldout-3: ROUGE-L" in out and "(the Results tab lists it)" in out
    run_dir = next((knowledge / "runs").iterdir())
    result = json.loads(next(run_dir.glob("eval-*.json")).read_text())
    assert result["questions"] == 3 and result["knowledge"] == "club.heldout-3"
    assert all((row["question"], row["reference"]) in PAIRS for row in result["rows"])
    table = results.collect(knowledge / "runs")
    assert list(table["test_set"]) == ["club-heldout-3"]


def test_the_cli_says_why_a_holdout_cannot_run(knowledge, tiny_models, capsys):
    code = evaluate.main(["--model", f"folder:{tiny_models['llama']}", "--knowledge", "docs-only", "--holdout", "2"])
    assert code == 1 and "has no Q/A pairs to hold out" in capsys.readouterr().err
    assert Path(knowledge / "runs").is_dir()
