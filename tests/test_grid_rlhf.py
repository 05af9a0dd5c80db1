"""The experiment grid's RLHF cells (studio/evaluation/grid_rlhf.py): base -> SFT -> SFT+GRPO -> SFT+DPO through the job queue."""

import pytest

from studio.evaluation import grid, grid_plan, results
from studio.jobs import queue, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import EvalJob, RLHFJob, SFTJob
from studio.models import refs
from studio.ui import charts

RLHF_GRID = ["base", "ft", "ft+grpo", "ft+dpo"]


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


def rlhf_spec(tiny_models, qa_files, **changes) -> grid.GridSpec:
    """Two SFT steps, two steps of each RLHF method, short answers: seconds per job on a tiny model."""
    train, tests = qa_files
    values = {"name": "r", "models": [f"folder:{tiny_models['llama']}"], "epochs": [1], "train_sizes": [1.0],
              "data": str(train), "tests": tests, "conditions": RLHF_GRID,
              "job": {"batch_size": 4, "threads": 1, "max_steps": 2},
              "rlhf_job": {"max_steps": 2, "batch_size": 1, "generations": 2, "max_new_tokens": 4}}
    return grid.GridSpec(**{**values, **changes})


def queued(root) -> list[tuple[queue.RunInfo, object]]:
    return [(info, runs.read_config(info.path)) for info in sorted(queue.list_runs(root), key=lambda r: r.created)]


def test_the_rlhf_preset_plans_rlhf_after_its_sft_run(tmp_path):
    spec = grid.PRESETS["rlhf"]
    assert [c.condition for c in grid.cells(spec)] == RLHF_GRID and spec.tests == ["assets/test_detailed.csv",
                                                                                  "assets/test_brief.csv"]
    planned = [(cell.condition, what) for cell, what, _ in grid._plan(spec, grid.Found(), grid.cells(spec))]
    assert planned == [("base", "evaluate"), ("ft", "train"), ("ft+grpo", "train"), ("ft+dpo", "train")]
    plan = grid_plan.describe_plan(spec, tmp_path)
    rows = [line for line in plan.splitlines() if "smollm2" in line and "·" in line]
    assert [row.split("·")[1].split()[0] for row in rows] == RLHF_GRID and all(r.endswith("to run") for r in rows)
    assert "4 cells" in plan and "Estimated time" in plan


def test_rlhf_cells_add_their_run_time_to_the_estimate(tiny_models, qa_files, tmp_path):
    without, _ = grid_plan.estimate_seconds(rlhf_spec(tiny_models, qa_files, conditions=["base", "ft"]), tmp_path)
    with_grpo, _ = grid_plan.estimate_seconds(rlhf_spec(tiny_models, qa_files, conditions=["base", "ft", "ft+grpo"]),
                                              tmp_path)
    longer, _ = grid_plan.estimate_seconds(rlhf_spec(tiny_models, qa_files, conditions=["base", "ft", "ft+grpo"],
                                                     rlhf_job={"max_steps": 20}), tmp_path)
    assert without < with_grpo < longer


@pytest.mark.parametrize("changes, message", [
    ({"conditions": ["base", "ft+grpo"]}, r"ft\+grpo continues the adapter of the fine-tuned \(ft\) cell: add ft"),
    ({"conditions": ["ft+grpo", "ft+dpo"]}, r"ft\+grpo and ft\+dpo continue the adapter of the fine-tuned"),
    ({"conditions": ["base", "ft", "ft+ppo"]}, "conditions are one or more of base, ft, ft.grpo, ft.dpo"),
    ({"rlhf_job": {"method": "rloo"}}, "rlhf_job may not set method: the grid sets them from each cell"),
    ({"rlhf_job": {"max_steps": 0}}, "max_steps must be positive"),
    ({"rlhf_job": {"steps": 3}}, "unknown RLHFJob field"),
])
def test_bad_rlhf_grids_are_refused_before_anything_is_queued(tiny_models, qa_files, tmp_path, changes, message):
    root = tmp_path / "runs"
    with pytest.raises(ConfigError, match=message):
        grid.submit(rlhf_spec(tiny_models, qa_files, **changes), root)
    assert not queue.list_runs(root), "nothing of the refused grid was queued"


def test_each_rlhf_cell_waits_for_its_sft_run_and_a_rerun_replaces_a_failed_chain(tiny_models, qa_files, tmp_path,
                                                                                    monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)  # nothing starts: what is queued is what we check
    spec = rlhf_spec(tiny_models, qa_files)
    assert len(grid.submit(spec, root)["queued"]) == 4
    found = queued(root)
    [(sft, _)] = [(info, cfg) for info, cfg in found if isinstance(cfg, SFTJob)]
    rlhf = [(info, cfg) for info, cfg in found if isinstance(cfg, RLHFJob)]
    assert [(cfg.method, cfg.after_run, cfg.adapter, cfg.eval_tests) for _, cfg in rlhf] == [
        (method, sft.id, str(sft.path.resolve()), spec.tests) for method in ("grpo", "dpo")]
    followed = sorted(info.after for info, cfg in found if isinstance(cfg, EvalJob) and info.after)
    assert followed == sorted([sft.id, *(info.id for info, _ in rlhf)]), "the queue evaluates every training"
    assert grid.submit(spec, root)["queued"] == [], "queued once, not again"

    runs.update_status(sft.path, state="failed", message="crashed")
    monkeypatch.setattr(queue, "MAX_RUNNING", 10)
    launched = []
    monkeypatch.setattr(queue, "_launch", lambda run_dir, resume, kind: launched.append(run_dir.name))
    queue.pump(root)  # the RLHF jobs and every evaluation end with the SFT run, saying why
    assert launched == [found[0][0].id], "only the base cell's evaluation could start"
    ended = {info.id: runs.read_status(info.path) for info, _ in rlhf}
    assert {s["state"] for s in ended.values()} == {"failed"}
    assert all(s["message"].startswith(f"Not started: training run {sft.id} failed") for s in ended.values())
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)
    assert len(grid.submit(spec, root)["queued"]) == 3, "ft, ft+grpo and ft+dpo again (base still waits)"
    [new_sft] = [info for info, cfg in queued(root) if isinstance(cfg, SFTJob) and info.id != sft.id]
    assert sorted(cfg.after_run for info, cfg in queued(root)
                  if isinstance(cfg, RLHFJob) and info.state == "queued") == [new_sft.id] * 2


def test_an_rlhf_grid_runs_end_to_end_and_fills_the_results(tiny_models, qa_files, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("CQA_RUNS_DIR", str(root))
    spec = rlhf_spec(tiny_models, qa_files)
    assert len(grid.submit(spec, root)["queued"]) == 4
    for info, _ in queued(root):
        assert queue.wait(info.id, timeout=240, root=root)["state"] == "finished", runs.tail(info.path / runs.LOG, 20)
    assert grid.progress(spec, root)["finished"] == 4
    again = grid.submit(spec, root)  # resumable: nothing left to run
    assert again["queued"] == [] and len(again["done"]) == 4 and len(queue.list_runs(root)) == 7

    table = results.collect(root)
    assert len(table) == 8 and set(table["grid"]) == {"r"}  # 4 conditions x 2 test sets
    by_condition = table.groupby("condition")["method"].first().to_dict()
    assert by_condition == {"base": "base", "ft": "LoRA", "ft+grpo": "SFT+GRPO", "ft+dpo": "SFT+DPO"}
    assert (table["rougeL_low"] <= table["rougeL"]).all() and (table["rougeL"] <= table["rougeL_high"]).all()
    assert (table[table["method"] != "base"]["runtime_s"] > 0).all()
    figure = charts.what_lifts_facts(table)
    assert {x for trace in figure.data for x in trace.x} == set(RLHF_GRID)



def test_the_estimate_takes_an_rlhf_step_from_an_earlier_run_of_the_same_shape(tiny_models, qa_files, tmp_path):
    spec = rlhf_spec(tiny_models, qa_files, conditions=["base", "ft", "ft+grpo"])
    [cell] = [c for c in grid.cells(spec) if c.condition == "ft+grpo"]
    without, _ = grid_plan.estimate_seconds(rlhf_spec(tiny_models, qa_files, conditions=["base", "ft"]), tmp_path)
    guessed, _ = grid_plan.estimate_seconds(spec, tmp_path)
    past = tmp_path / "past-grpo"  # an earlier run of the same shape that named its adapter as the model
    past.mkdir()
    job = grid.job_for(spec, cell, sft_run=tmp_path / "sft")
    job.model, job.adapter, job.extra = f"adapter:{tmp_path / 'sft'}", None, {}  # not this grid's cell
    job.save(past / runs.CONFIG)
    runs.write_json(past / runs.STATUS, {"state": "finished", "created_at": 1.0})
    runs.write_json(past / runs.SUMMARY, {"model": str(refs.ModelRef.parse(cell.model)), "steps": 4,
                                          "train_seconds": 4000.0})  # 1000 s a step
    measured, _ = grid_plan.estimate_seconds(spec, tmp_path)
    assert without < guessed < without + 300, "a tiny model's guessed steps take seconds"
    assert without + 30 + 2 * 1000 <= measured < without + 30 + 2 * 1000 + 300, "2 steps of 1000 s, and loading"


def test_a_finished_rlhf_run_without_results_gets_its_evaluation_only(tiny_models, qa_files, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setattr(queue, "MAX_RUNNING", 0)
    spec = rlhf_spec(tiny_models, qa_files, conditions=["ft", "ft+dpo"])
    grid.submit(spec, root)
    for info, _ in queued(root):  # everything ended, but no evaluation wrote its results
        runs.update_status(info.path, state="finished")
    outcome = grid.submit(spec, root)
    assert [label.split("·")[1].strip() for label in outcome["queued"]] == ["ft", "ft+dpo"]
    assert all(label.endswith("(evaluation only)") for label in outcome["queued"])
    rlhf = next(info for info, cfg in queued(root) if isinstance(cfg, RLHFJob))
    _, last = queued(root)[-1]
    assert isinstance(last, EvalJob) and (last.after_run, last.tests) == (rlhf.id, spec.tests)
