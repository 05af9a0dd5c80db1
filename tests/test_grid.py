"""Evaluation, the experiment grid and the results table on tiny models, end to end through the job queue."""

import json

import pytest

from chat import models
from eval import evaluate, grid, results
from training import jobs
from training.configs import ConfigError, EvalJob


@pytest.fixture
def qa_files(tmp_path):
    train = tmp_path / "faq.csv"
    train.write_text("question,answer\n" + "".join(f"What is rule {i}?,Rule {i} says wait {i} days.\n"
                                                 for i in range(24)))
    brief = tmp_path / "test_brief.csv"
    brief.write_text("question,answer\nIs rule 3 strict?,Yes. Rule 3 says wait 3 days.\nAnd rule 5?,Wait 5 days.\n")
    detailed = tmp_path / "test_detailed.csv"
    detailed.write_text("question,answer\nExplain rule 2.,Rule 2 says wait 2 days. It applies to everyone.\n")
    return train, [str(detailed), str(brief)]


def test_evaluate_answers_every_question_and_scores_it(tiny_models, qa_files):
    loaded = models.load_model(f"folder:{tiny_models['llama']}", precision="float32")
    result = evaluate.evaluate(loaded, qa_files[1][1], batch_size=2, max_new_tokens=6)
    assert result["test_set"] == "brief" and result["questions"] == 2
    assert [row["question"] for row in result["rows"]] == ["Is rule 3 strict?", "And rule 5?"]
    assert all(row["answer"] for row in result["rows"])
    assert 0 <= result["rougeL_x100"] <= 100 and result["perplexity"] > 1
    assert result["generated_tokens"] > 0 and result["tokens_per_s"] > 0
    json.dumps(result)  # stored as JSON in the run folder


@pytest.mark.parametrize("family", ["gpt2", "llama", "t5"])
def test_batched_answers_equal_one_by_one_answers(tiny_models, family):
    loaded = models.load_model(f"folder:{tiny_models[family]}", precision="float32")
    questions = ["Hi", "What is the waiting period for pre-existing diseases?", "How do I renew my policy?"]
    settings = evaluate.GenerationSettings(max_new_tokens=8, temperature=0.0)
    batched, _ = evaluate.generate_answers(loaded, questions, settings, batch_size=3)
    single = [evaluate.generate_answers(loaded, [q], settings, batch_size=1)[0][0] for q in questions]
    assert batched == single


def test_eval_cli_writes_the_result(tiny_models, qa_files, tmp_path, capsys):
    out = tmp_path / "result.json"
    code = evaluate.main(["--model", f"folder:{tiny_models['gpt2']}", "--test", qa_files[1][0], "--out", str(out),
                          "--max-new-tokens", "4"])
    assert code == 0 and "ROUGE-L F1 x100 =" in capsys.readouterr().out
    assert json.loads(out.read_text())["test_set"] == "detailed"


def test_a_two_cell_grid_trains_evaluates_and_fills_the_results(tiny_models, qa_files, tmp_path, monkeypatch):
    train, tests = qa_files
    root = tmp_path / "runs"
    monkeypatch.setattr(models, "RUNS_DIR", root)
    spec = grid.GridSpec(name="t", models=[f"folder:{tiny_models['llama']}"], epochs=[1], train_sizes=[0.5, 1.0],
                         data=str(train), tests=tests, include_base=True,
                         job={"batch_size": 4, "threads": 1, "learning_rate": 0.01})
    assert len(grid.cells(spec)) == 3  # base + two sizes
    plan = grid.describe_plan(spec, root)
    assert "3 cells" in plan and "Estimated time" in plan
    outcome = grid.submit(spec, root)
    assert len(outcome["queued"]) == 3
    for info in jobs.list_runs(root):
        jobs.wait(info.id, timeout=240, root=root)
    assert grid.progress(spec, root)["finished"] == 3
    again = grid.submit(spec, root)  # resumable: nothing left to run
    assert again["queued"] == [] and len(again["done"]) == 3

    table = results.collect(root)
    assert len(table) == 6  # 3 runs x 2 test sets
    assert sorted(table["method"].unique()) == ["LoRA", "base"]
    assert sorted(table[table["method"] == "LoRA"]["train_examples"].unique()) == [11, 22]
    assert set(table["test_set"]) == {"brief", "detailed"} and (table["params"] > 0).all()
    for figure in results.figures(table, results.collect_memory_bench(root)):
        assert figure.to_dict()["data"] or figure.layout.annotations
    drill = results.per_question(root / table.iloc[0]["run"], table.iloc[0]["test_set"])
    assert list(drill.columns[:3]) == ["question", "reference", "answer"] and len(drill) >= 1


def test_grid_refuses_sizes_the_data_cannot_hold(qa_files, tiny_models):
    spec = grid.GridSpec(models=[f"folder:{tiny_models['llama']}"], train_sizes=[200, 400], data=str(qa_files[0]),
                         tests=qa_files[1])
    with pytest.raises(ConfigError, match="exceed the 22 training examples"):
        grid.check(spec)


def test_grid_refuses_an_unavailable_model(qa_files):
    spec = grid.GridSpec(models=["hub:EleutherAI/pythia-12b"], data=str(qa_files[0]), tests=qa_files[1])
    with pytest.raises(ConfigError, match="unavailable"):
        grid.check(spec)


def test_every_grid_preset_is_valid():
    for spec in grid.PRESETS.values():
        spec.validate()
        assert all(isinstance(grid.job_for(spec, c), (EvalJob, grid.SFTJob)) for c in grid.cells(spec))


def test_empty_results_give_explaining_figures(tmp_path):
    table = results.collect(tmp_path)
    assert table.empty
    for figure in results.figures(table, results.collect_memory_bench(tmp_path)):
        assert figure.layout.annotations
