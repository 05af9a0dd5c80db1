"""Evaluation, the experiment grid and the results table on tiny models, end to end through the job queue."""

import json

import pytest

from chat import models
from eval import evaluate, grid, results
from training import jobs, runs
from training.configs import ConfigError, EvalJob, SFTJob


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


def test_eval_cli_on_an_adapter_writes_where_results_finds_it(tiny_models, qa_files, tmp_path, capsys):
    from training import sft

    train, tests = qa_files
    run_dir = tmp_path / "runs" / "trained"
    sft.run(SFTJob.from_dict({"model": f"folder:{tiny_models['llama']}", "data": str(train), "max_steps": 1,
                              "batch_size": 4, "threads": 1}), run_dir)
    code = evaluate.main(["--adapter", str(run_dir), "--test", tests[1], "--max-new-tokens", "4"])
    assert code == 0 and f"written to {runs.eval_result_path(run_dir, tests[1])}" in capsys.readouterr().out
    table = results.collect(tmp_path / "runs")
    assert list(table["run"]) == ["trained"] and list(table["method"]) == ["LoRA"]
    assert list(table["test_set"]) == ["brief"] and list(table["epochs"]) == [0]  # max_steps ended it mid-epoch
    assert len(results.per_question(run_dir, "brief")) == 2


def test_a_two_cell_grid_trains_evaluates_and_fills_the_results(tiny_models, qa_files, tmp_path, monkeypatch):
    train, tests = qa_files
    root = tmp_path / "runs"
    monkeypatch.setenv("CQA_RUNS_DIR", str(root))
    spec = grid.GridSpec(name="t", models=[f"folder:{tiny_models['llama']}"], epochs=[1], train_sizes=[0.5, 1.0],
                         data=str(train), tests=tests, include_base=True,
                         job={"batch_size": 4, "threads": 1, "learning_rate": 0.01})
    assert len(grid.cells(spec)) == 3  # base + two sizes
    plan = grid.describe_plan(spec, root)
    assert "3 cells" in plan and "Estimated time" in plan
    outcome = grid.submit(spec, root)
    assert len(outcome["queued"]) == 3
    queued = jobs.list_runs(root)
    assert sorted(r.kind for r in queued) == ["LoRA", "LoRA", "evaluation", "evaluation", "evaluation"]
    trained = {r.id for r in queued if r.kind == "LoRA"}
    assert {r.after for r in queued if r.after} == trained, "each trained cell is followed by its evaluation"
    for info in sorted(queued, key=lambda r: r.created):
        jobs.wait(info.id, timeout=240, root=root)
    assert grid.progress(spec, root)["finished"] == 3
    for run_id in trained:  # the evaluation's results live in the training run's folder
        assert all(runs.eval_result_path(root / run_id, t).exists() for t in tests)
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
        for cell in grid.cells(spec):
            job = grid.job_for(spec, cell)
            assert job.extra == {"grid": spec.name, "cell": cell.key()}
            if cell.method == "base":
                assert type(job) is EvalJob and job.model == cell.model and job.tests == spec.tests
            else:
                assert type(job) is SFTJob and (job.model, job.epochs, job.qlora) == (
                    cell.model, cell.epochs, cell.method == "qlora")
                assert job.train_size == cell.train_size and job.eval_tests == spec.tests


def test_a_grid_past_the_cell_cap_is_refused_naming_its_size():
    spec = grid.GridSpec(models=["bundled:smollm2-135m-instruct"], epochs=list(range(1, 14)),
                         train_sizes=[0.2, 0.4, 0.6, 0.8, 1.0])
    with pytest.raises(ConfigError, match=f"this grid has 66 cells; a grid may have at most {grid.MAX_CELLS}"):
        spec.validate()


def test_a_trained_cell_without_results_gets_its_evaluation_only(tiny_models, qa_files, tmp_path, monkeypatch):
    train, tests = qa_files
    root = tmp_path / "runs"
    monkeypatch.setattr(jobs, "MAX_RUNNING", 0)  # nothing starts: what is queued is what we check
    spec = grid.GridSpec(name="t", models=[f"folder:{tiny_models['llama']}"], epochs=[1], train_sizes=[1.0],
                         data=str(train), tests=tests, include_base=False)
    [cell] = grid.cells(spec)
    run_dir = root / "trained"
    run_dir.mkdir(parents=True)
    grid.job_for(spec, cell).save(run_dir / runs.CONFIG)
    runs.write_json(run_dir / runs.STATUS, {"state": "finished", "created_at": 1.0})
    assert grid.progress(spec, root)["finished"] == 0
    outcome = grid.submit(spec, root)
    assert outcome["queued"] == [cell.label() + " (evaluation only)"]
    [evaluation] = [r for r in jobs.list_runs(root) if r.id != "trained"]
    assert evaluation.after == "trained" and evaluation.kind == "evaluation"
    assert grid.submit(spec, root)["in progress"] == [cell.label()], "queued once, not again"


@pytest.mark.parametrize("shared, max_queued, room", [("0", "8", grid.MAX_CELLS), ("1", "8", 8), ("0", "100", 100)])
def test_a_grid_may_fill_the_queue_only_in_private_use(monkeypatch, shared, max_queued, room):
    monkeypatch.setenv("CQA_SHARED", shared)
    monkeypatch.setenv("CQA_MAX_QUEUED", max_queued)
    assert grid.queue_room() == room


def test_a_grid_that_would_overfill_the_queue_is_refused_whole(tiny_models, qa_files, tmp_path, monkeypatch):
    train, tests = qa_files
    root = tmp_path / "runs"
    monkeypatch.setattr(jobs, "MAX_RUNNING", 0)
    monkeypatch.setattr(grid, "MAX_CELLS", 2)
    monkeypatch.setenv("CQA_MAX_QUEUED", "2")
    spec = grid.GridSpec(name="t", models=[f"folder:{tiny_models['llama']}"], epochs=[1], train_sizes=[0.5, 1.0],
                         data=str(train), tests=tests, include_base=True)
    with pytest.raises(ConfigError, match="this grid has 3 cells"):
        grid.submit(spec, root)
    monkeypatch.setattr(grid, "MAX_CELLS", 3)
    jobs.submit(EvalJob(model=f"folder:{tiny_models['llama']}", tests=tests), root)
    with pytest.raises(ConfigError, match="1 jobs already wait in the queue and this grid would add 3"):
        grid.submit(spec, root)
    assert len(jobs.list_runs(root)) == 1, "nothing of the refused grid was queued"


def test_empty_results_give_explaining_figures(tmp_path):
    table = results.collect(tmp_path)
    assert table.empty
    for figure in results.figures(table, results.collect_memory_bench(tmp_path)):
        assert figure.layout.annotations
