"""Evaluation, the experiment grid and the results table on tiny models, end to end through the job queue."""

import json

import pytest

from studio.engines import base, loader
from studio.evaluation import evaluate, grid, grid_plan, grid_rlhf, results
from studio.jobs import queue, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import EvalJob, RLHFJob, SFTJob
from studio.metrics import rouge
from studio.ui import charts

RAG_CONDITIONS = [c for c in grid.CONDITIONS if c not in grid_rlhf.RLHF_CONDITIONS]
"""The five conditions of the facts preset: base, ft and the retrieval ones."""


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
    loaded = loader.load_model(f"folder:{tiny_models['llama']}", precision="float32")
    result = evaluate.evaluate(loaded, qa_files[1][1], batch_size=2, max_new_tokens=6)
    assert result["test_set"] == "brief" and result["questions"] == 2
    assert [row["question"] for row in result["rows"]] == ["Is rule 3 strict?", "And rule 5?"]
    assert all(row["answer"] for row in result["rows"])
    assert 0 <= result["rougeL_x100"] <= 100 and result["perplexity"] > 1
    assert result["generated_tokens"] > 0 and result["tokens_per_s"] > 0
    json.dumps(result)  # stored as JSON in the run folder


@pytest.mark.parametrize("family", ["gpt2", "llama", "t5"])
def test_batched_answers_equal_one_by_one_answers(tiny_models, family):
    loaded = loader.load_model(f"folder:{tiny_models[family]}", precision="float32")
    questions = ["Hi", "What is the waiting period for pre-existing diseases?", "How do I renew my policy?"]
    settings = base.GenerationSettings(max_new_tokens=8, temperature=0.0)
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
    from studio.training import sft

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
    plan = grid_plan.describe_plan(spec, root)
    assert "3 cells" in plan and "Estimated time" in plan
    outcome = grid.submit(spec, root)
    assert len(outcome["queued"]) == 3
    queued = queue.list_runs(root)
    assert sorted(r.kind for r in queued) == ["LoRA", "LoRA", "evaluation", "evaluation", "evaluation"]
    trained = {r.id for r in queued if r.kind == "LoRA"}
    assert {r.after for r in queued if r.after} == trained, "each trained cell is followed by its evaluation"
    for info in sorted(queued, key=lambda r: r.created):
        queue.wait(info.id, timeout=240, root=root)
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
    for figure in charts.figures(table, results.collect_memory_bench(root)):
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


def test_every_grid_preset_is_valid(tmp_path):
    for spec in grid.PRESETS.values():
        spec.validate()
        for cell in grid.cells(spec):
            if cell.method == "base":
                for collection, tests in grid.eval_groups(spec, cell).items():
                    job = grid.job_for(spec, cell, collection)
                    assert job.extra == {"grid": spec.name, "cell": cell.key(),
                                         **({"knowledge": collection} if collection else {})}
                    assert type(job) is EvalJob and job.model == cell.model and job.tests == tests
                    assert job.knowledge == (collection or None)
            elif cell.condition in grid_rlhf.RLHF_CONDITIONS:
                job = grid.job_for(spec, cell, sft_run=tmp_path / "sft-run")
                assert type(job) is RLHFJob and job.extra == {"grid": spec.name, "cell": cell.key()}
                assert (job.method, job.model, job.adapter, job.after_run) == (
                    grid_rlhf.RLHF_CONDITIONS[cell.condition], cell.model, str(tmp_path / "sft-run"), "sft-run")
                assert job.eval_tests == spec.tests and job.train_size == cell.train_size
            else:
                job = grid.job_for(spec, cell)
                assert job.extra == {"grid": spec.name, "cell": cell.key()}
                assert type(job) is SFTJob and (job.model, job.epochs, job.qlora) == (
                    cell.model, cell.epochs, cell.method == "qlora")
                assert job.train_size == cell.train_size
                assert job.eval_tests == (spec.tests if cell.condition == "ft" else [])
                assert job.knowledge == (spec.train_knowledge if cell.condition == "raft+rag" else None)


def test_a_grid_past_the_cell_cap_is_refused_naming_its_size():
    spec = grid.GridSpec(models=["bundled:smollm2-135m-instruct"], epochs=list(range(1, 14)),
                         train_sizes=[0.2, 0.4, 0.6, 0.8, 1.0])
    with pytest.raises(ConfigError, match=f"this grid has 66 cells; a grid may have at most {grid.MAX_CELLS}"):
        spec.validate()


def test_a_trained_cell_without_results_gets_its_evaluation_only(tiny_models, qa_files, tmp_path, monkeypatch):
    train, tests = qa_files
    root = tmp_path / "runs"
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)  # nothing starts: what is queued is what we check
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
    [evaluation] = [r for r in queue.list_runs(root) if r.id != "trained"]
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
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)
    monkeypatch.setattr(grid, "MAX_CELLS", 2)
    monkeypatch.setenv("CQA_MAX_QUEUED", "2")
    spec = grid.GridSpec(name="t", models=[f"folder:{tiny_models['llama']}"], epochs=[1], train_sizes=[0.5, 1.0],
                         data=str(train), tests=tests, include_base=True)
    with pytest.raises(ConfigError, match="this grid has 3 cells"):
        grid.submit(spec, root)
    monkeypatch.setattr(grid, "MAX_CELLS", 3)
    queue.submit(EvalJob(model=f"folder:{tiny_models['llama']}", tests=tests), root)
    with pytest.raises(ConfigError, match="1 jobs already wait in the queue and this grid would add 3"):
        grid.submit(spec, root)
    assert len(queue.list_runs(root)) == 1, "nothing of the refused grid was queued"


def test_empty_results_give_explaining_figures(tmp_path):
    table = results.collect(tmp_path)
    assert table.empty
    for figure in charts.figures(table, results.collect_memory_bench(tmp_path)):
        assert figure.layout.annotations


# ------------------------------------------------------------------------------------------------ conditions


def condition_spec(tiny_models, qa_files, conditions=RAG_CONDITIONS):
    train, tests = qa_files
    return grid.GridSpec(name="c", models=[f"folder:{tiny_models['llama']}"], epochs=[1], train_sizes=[1.0],
                         data=str(train), tests=tests, conditions=list(conditions),
                         knowledge={tests[0]: "sample-faq", tests[1]: "sample-policy"})


def queued_configs(root) -> list[tuple[queue.RunInfo, object]]:
    return [(info, runs.read_config(info.path)) for info in sorted(queue.list_runs(root), key=lambda r: r.created)]


def test_each_condition_queues_its_jobs(tiny_models, qa_files, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)
    spec = condition_spec(tiny_models, qa_files)
    assert [c.condition for c in grid.cells(spec)] == ["base", "base+rag", "ft", "ft+rag", "raft+rag"]
    outcome = grid.submit(spec, root)
    assert len(outcome["queued"]) == 5
    found = queued_configs(root)
    trainings = [(info, cfg) for info, cfg in found if isinstance(cfg, SFTJob)]
    assert [(cfg.knowledge, cfg.eval_tests) for _, cfg in trainings] == [(None, spec.tests), ("sample-faq", [])]
    plain_id, raft_id = (info.id for info, _ in trainings)
    evaluations = sorted((cfg.extra.get("cell", {}).get("condition", "follow-up"), cfg.knowledge, tuple(cfg.tests),
                          info.after) for info, cfg in found if isinstance(cfg, EvalJob))
    detailed, brief = ((t,) for t in spec.tests)
    assert evaluations == sorted([
        ("base", None, tuple(spec.tests), ""),
        ("base+rag", "sample-faq", detailed, ""), ("base+rag", "sample-policy", brief, ""),
        ("follow-up", None, tuple(spec.tests), plain_id),  # ft: the queue's own evaluation after training
        ("ft+rag", "sample-faq", detailed, plain_id), ("ft+rag", "sample-policy", brief, plain_id),  # same adapter
        ("raft+rag", "sample-faq", detailed, raft_id), ("raft+rag", "sample-policy", brief, raft_id)])
    again = grid.submit(spec, root)
    assert again["queued"] == [] and len(again["in progress"]) == 5, "queued once, not again"


def fake_result(test: str, collection: str | None, rouge_l: float, facts: float | None) -> dict:
    agg = {m: {"mean": rouge_l, "low": rouge_l - 0.1, "high": rouge_l + 0.1}
           for m in ("rouge1", "rouge2", "rougeL", "rougeLsum")}
    if facts is not None:
        agg["facts"] = {"mean": facts, "low": facts - 0.2, "high": facts + 0.1, "scored": 4, "skipped": 0}
    return {"test_set": evaluate.test_set_name(test), "aggregate": agg, "knowledge": collection, "questions": 4,
            "retrieval": {"hit@1": 0.5, "hit@3": 1.0, "with_source": 4} if collection else None,
            "created_at": 1.0, "rows": [{"question": "q", "reference": "r", "answer": "a", "rouge1": rouge_l,
                                         "rouge2": rouge_l, "rougeL": rouge_l, "rougeLsum": rouge_l}]}


def finish_everything(root, score=lambda cfg: (0.3, 0.25)) -> None:
    """Every queued run marked finished, with the result files an evaluation would have written."""
    for info, cfg in queued_configs(root):
        if isinstance(cfg, EvalJob):
            folder = runs.eval_results_folder(cfg.model, info.path)
            for test in cfg.tests:
                runs.write_json(evaluate.result_path(folder, test, cfg.knowledge),
                                fake_result(test, cfg.knowledge, *score(cfg)))
        runs.update_status(info.path, state="finished")


def test_a_rerun_skips_finished_condition_cells_and_redoes_a_missing_evaluation(tiny_models, qa_files, tmp_path,
                                                                                 monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("CQA_RUNS_DIR", str(root))
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)
    spec = condition_spec(tiny_models, qa_files)
    grid.submit(spec, root)
    finish_everything(root)
    assert grid.progress(spec, root)["finished"] == 5
    assert grid.submit(spec, root)["queued"] == []
    raft = next(info for info, cfg in queued_configs(root) if isinstance(cfg, SFTJob) and cfg.knowledge)
    evaluate.result_path(raft.path, spec.tests[1], "sample-policy").unlink()
    [label] = grid.submit(spec, root)["queued"]
    assert "raft+rag" in label and label.endswith("(evaluation only)")
    _, cfg = queued_configs(root)[-1]
    assert (cfg.knowledge, cfg.tests, cfg.after_run) == ("sample-policy", [spec.tests[1]], raft.id)


def test_results_name_each_condition_and_chart_what_lifts_facts(tiny_models, qa_files, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("CQA_RUNS_DIR", str(root))
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)
    grid.submit(condition_spec(tiny_models, qa_files), root)
    finish_everything(root, lambda cfg: (0.6, 0.8) if cfg.knowledge else (0.3, 0.2))
    table = results.collect(root)
    assert sorted(table["condition"].unique()) == sorted(RAG_CONDITIONS)
    assert len(table) == 10  # 5 conditions x 2 test sets
    grounded = table[table["condition"].str.endswith("+rag")]
    assert (grounded["facts"].round(6) == 80).all() and (grounded["hit3"] == 1.0).all()
    assert (table[~table["condition"].str.endswith("+rag")]["facts"].round(6) == 20).all()
    figure = charts.what_lifts_facts(table)
    bars = {(trace.name, trace.xaxis): dict(zip(trace.x, trace.y)) for trace in figure.data}
    assert len(bars) == 4 and {name for name, _ in bars} == {rouge.HEADLINE_LABEL, charts.FACTS_LABEL}
    for (name, _), values in bars.items():  # one bar per condition, the facts' and ROUGE's own values
        assert values == pytest.approx({"base": 20, "ft": 20, "base+rag": 80, "ft+rag": 80, "raft+rag": 80}
                                       if name == charts.FACTS_LABEL else
                                       {"base": 30, "ft": 30, "base+rag": 60, "ft+rag": 60, "raft+rag": 60})
    facts = next(t for t in figure.data if t.name == charts.FACTS_LABEL)
    assert list(facts.error_y.array) == pytest.approx([10] * 5)  # high - mean
    assert list(facts.error_y.arrayminus) == pytest.approx([20] * 5)  # mean - low
    assert list(figure.layout.xaxis.categoryarray) == results.CONDITION_ORDER
    drill = results.per_question(root / grounded.iloc[0]["run"], grounded.iloc[0]["test_set"],
                                 grounded.iloc[0]["knowledge"])
    assert list(drill["question"]) == ["q"] and "missed_facts" in drill.columns


def test_old_result_files_without_facts_still_load(tmp_path):
    run_dir = tmp_path / "old-eval"
    run_dir.mkdir()
    EvalJob(model="bundled:smollm2-135m-instruct").save(run_dir / runs.CONFIG)
    old = fake_result("assets/test_brief.csv", None, 0.3, None)
    del old["knowledge"], old["retrieval"]
    runs.write_json(runs.eval_result_path(run_dir, "assets/test_brief.csv"), old)
    table = results.collect(tmp_path)
    assert list(table["condition"]) == ["base"] and table["facts"].isna().all() and table["hit3"].isna().all()
    assert results.rounded(table)["facts"].isna().all()
    drill = results.per_question(run_dir, "brief")
    assert drill["facts"].isna().all() and list(drill["missed_facts"]) == [""]
    for figure in charts.figures(table, results.collect_memory_bench(tmp_path)):
        assert figure.to_dict()["data"] or figure.layout.annotations


def test_the_facts_preset_plans_all_five_conditions_with_a_time(tmp_path):
    spec = grid.PRESETS["facts"]
    assert spec.conditions == RAG_CONDITIONS and "assets/test_policy.csv" in spec.tests
    assert len(grid.cells(spec)) == 10 <= grid.MAX_CELLS
    plan = grid_plan.describe_plan(spec, tmp_path)
    assert "10 cells" in plan and "raft+rag" in plan and "Estimated time" in plan


def test_rag_conditions_need_a_collection_for_every_test(tiny_models, qa_files):
    spec = condition_spec(tiny_models, qa_files, ["base", "base+rag"])
    spec.knowledge = {spec.tests[0]: "sample-faq"}
    with pytest.raises(ConfigError, match="none is named for .*test_brief.csv"):
        spec.validate()
    spec.conditions = ["base", "best"]
    with pytest.raises(ConfigError, match="conditions are one or more of"):
        spec.validate()


def test_a_rag_grid_naming_a_collection_that_does_not_exist_is_refused(tiny_models, qa_files, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    spec = condition_spec(tiny_models, qa_files, ["base", "base+rag"])
    spec.knowledge = {spec.tests[0]: "sample-faq", spec.tests[1]: "mine"}
    with pytest.raises(ConfigError, match="no knowledge collection named mine"):
        grid.submit(spec, tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not queue.list_runs(tmp_path / "runs")


def test_grid_cli_takes_any_test_files_and_one_collection(tiny_models, qa_files, tmp_path, monkeypatch, capsys):
    from studio import cli

    monkeypatch.setenv("CQA_RUNS_DIR", str(tmp_path / "runs"))
    train, tests = qa_files
    argv = ["--preset", "facts", "--plan", "--models", f"folder:{tiny_models['llama']}", "--data", str(train),
            "--tests", *tests, "--knowledge", "nowhere"]
    assert cli.grid(argv) == 2
    assert "no knowledge collection named nowhere" in capsys.readouterr().err
    monkeypatch.setattr(grid, "names", lambda: ["ours"])
    assert cli.grid([*argv[:-1], "ours"]) == 0
    assert "base+rag" in capsys.readouterr().out
