"""The Results tab: the grid form -> grid spec mapping, and the tab through gradio_client (memory benchmark as a
queued job, results, drill-down, grid plan)."""

import time

import gradio as gr
import pandas as pd
import pytest
from gradio_client import Client

import app
from studio.evaluation import evaluate, grid, grid_rlhf
from studio.jobs import queue, runs
from studio.jobs.config import ConfigError
from studio.ui import results

PRESETS = sorted(grid.PRESETS)
SAMPLE_DATA = "assets/insurer_faq.csv"
"""The grid's data picker value for the sample FAQ."""


def use_runs(patch: pytest.MonkeyPatch, root) -> None:
    patch.setenv("CQA_RUNS_DIR", str(root))


# ------------------------------------------------------------------------------------------ grid form


@pytest.fixture(scope="module")
def grid_form(tmp_path_factory) -> dict:
    """The grid form's widgets by name, as the tab builds them."""
    patch = pytest.MonkeyPatch()
    use_runs(patch, tmp_path_factory.mktemp("form") / "runs")
    with gr.Blocks():
        form = results.build_results_tab()
    patch.undo()
    return form


@pytest.mark.parametrize("preset", PRESETS)
def test_a_preset_fills_the_form_with_boxes_that_exist_and_reads_back_unchanged(grid_form, preset):
    shown = dict(zip([n for n in grid_form if n != "preset"], results.preset_values(preset)))
    choices = [value for _, value in grid_form["methods"].choices]
    assert shown["methods"] and set(shown["methods"]) <= set(choices)  # a preset's LoRA box is ticked
    assert results.spec_from(preset=preset, **shown) == grid.PRESETS[preset]
    for picker in ("data", "tests", "collection"):  # chosen from lists, not typed
        values = shown[picker] if isinstance(shown[picker], list) else [shown[picker]]
        assert set(values) <= {value for _, value in grid_form[picker].choices}, picker


def test_any_registered_dataset_and_collection_go_to_the_grid(tmp_path, monkeypatch):
    """The grid trains on a dataset added in the Training tab and answers +rag and raft+rag cells from one of
    the user's collections, for any test set; the sample collections answer only the sample test sets."""
    monkeypatch.setattr(results.collection, "names", lambda: ["ours"])
    mine = str(tmp_path / "mine.csv")
    spec = results.spec_from(preset="facts", data=mine, tests=["assets/test_brief.csv", mine],
                             collection="ours")
    assert spec.data == mine and spec.tests == ["assets/test_brief.csv", mine]
    assert spec.knowledge == {"assets/test_brief.csv": "ours", mine: "ours"} and spec.train_knowledge == "ours"
    assert ("ours", "ours") in results.collection_choices()
    samples = results.spec_from(preset="facts", tests=[mine], collection=results.SAMPLE_COLLECTIONS)
    with pytest.raises(ConfigError, match="the sample collections answer only the sample test sets"):
        samples.validate()
    with pytest.raises(ConfigError, match="Test sets: pick at least one"):
        results.spec_from(preset="facts", tests=[])


def test_form_values_go_to_the_grid_by_name():
    spec = results.spec_from(preset="quick", name="  mine ", methods=["QLoRA", "LoRA"], epochs="1, 3",
                                train_sizes="0.5 200", data="")
    assert (spec.name, spec.methods, spec.epochs, spec.train_sizes) == ("mine", ["qlora", "lora"], [1, 3], [0.5, 200])
    assert spec.data == grid.PRESETS["quick"].data and spec.models == grid.PRESETS["quick"].models


@pytest.mark.parametrize("form, message", [({"preset": "huge"}, "preset must be one of"),
                                           ({"epochs": "1 two"}, "epochs: not a list of numbers")])
def test_bad_grid_form_is_refused_with_the_field_named(form, message):
    with pytest.raises(ConfigError, match=message):
        results.spec_from(**form)
    with pytest.raises(gr.Error, match=message):
        results.plan_grid(**form)


def queue_without_starting(spec: grid.GridSpec, cell: grid.Cell, root) -> None:
    """A queued run of one grid cell, as jobs.submit leaves it before the queue starts it."""
    run_dir = root / f"queued-{cell.method}-{cell.train_size}"
    run_dir.mkdir(parents=True)
    grid.job_for(spec, cell).save(run_dir / runs.CONFIG)
    runs.write_json(run_dir / runs.STATUS, {"state": "queued", "message": "", "created_at": time.time()})


def test_grid_status_counts_the_cells_of_the_grid_it_names(tmp_path, monkeypatch, tiny_models):
    use_runs(monkeypatch, tmp_path)
    form = dict(preset="quick", name="mine", models=[f"folder:{tiny_models['llama']}"], methods=["LoRA"],
                epochs="1", train_sizes="0.5 1", data="assets/insurer_faq.csv")
    spec = results.spec_from(**form)
    queue_without_starting(spec, grid.cells(spec)[1], tmp_path)
    assert results.grid_status(**form) == ("Grid 'mine': 0 of 3 cells done · 0 running · 1 queued · 0 failed")
    assert results.grid_status(**{**form, "name": "other"}) == "Grid 'other': nothing queued yet."
    assert results.grid_status(**{**form, "epochs": "x"}).startswith("⚠️ epochs: not a list of numbers")


# ------------------------------------------------------------------------------------------- the live tab


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("results-ui") / "runs"
    patch = pytest.MonkeyPatch()
    use_runs(patch, root)
    demo = app.build_app(default_model=f"folder:{tiny_models['llama']}", compare_model=f"folder:{tiny_models['gpt2']}")
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    yield Client(demo.local_url, verbose=False), root
    demo.close()
    patch.undo()


def test_memory_benchmark_runs_as_a_job_and_shows_in_results(server, tiny_models):
    client, root = server
    message = client.predict(f"folder:{tiny_models['llama']}", 1, 64, 2, api_name="/memory_bench")
    assert "Queued memory benchmark" in message
    [run] = queue.list_runs(root)
    deadline = time.time() + 180
    while (state := queue.reconcile(run.path)["state"]) not in ("finished", "failed"):
        assert time.time() < deadline
        time.sleep(0.5)
    assert state == "finished", queue.reconcile(run.path)
    assert list(runs.memory_bench_dir(root).glob("*.json")), "the result landed where the Results tab reads it"
    *figures, table, pick, note = client.predict(api_name="/results")
    memory_plot = figures[-1]
    assert "Running summary" in str(memory_plot) and "Last k exchanges" in str(memory_plot)


def test_bad_memory_benchmark_settings_are_refused_by_name(server, tiny_models):
    client, root = server
    before = {p.name for p in root.iterdir()}
    with pytest.raises(Exception, match="model must be a non-empty text"):
        client.predict(model=" ", api_name="/memory_bench")
    assert {p.name for p in root.iterdir()} == before


def test_grid_plan_is_shown_before_anything_runs(server, tiny_models):
    client, root = server
    plan = client.predict("quick", "ui-plan", [f"folder:{tiny_models['llama']}"], ["LoRA"], "1 2", "0.5 1",
                          SAMPLE_DATA, api_name="/plan_grid")
    assert "5 cells" in plan and "Estimated time" in plan
    assert not [r for r in queue.list_runs(root) if "ui-plan" in str(r.path)]
    by_name = client.predict(preset="quick", name="ui-plan", models=[f"folder:{tiny_models['llama']}"],
                             api_name="/plan_grid")  # the rest at the form's values
    assert "Grid 'ui-plan'" in by_name


def test_grid_with_impossible_sizes_is_refused_with_a_reason(server, tiny_models):
    client, _ = server
    with pytest.raises(Exception, match="exceed the 355 training examples"):
        client.predict("report", "r", [f"folder:{tiny_models['llama']}"], ["LoRA"], "1 3", "200 400 800",
                       SAMPLE_DATA, api_name="/plan_grid")


@pytest.mark.parametrize("choice", ["../../etc · detailed", "/etc · detailed", ".. · x", "a/../../b · x"])
def test_drill_down_refuses_a_run_outside_the_runs_folder(tmp_path, monkeypatch, choice):
    use_runs(monkeypatch, tmp_path)
    with pytest.raises(gr.Error, match="is not a run id"):
        results.drill_down(choice)


def test_csv_export_escapes_cells_a_spreadsheet_would_run_as_formulas(monkeypatch):
    table = pd.DataFrame({"run": ["=HYPERLINK(\"http://x\")", "plain"], "rougeL_x100": [12.5, -3.0]})
    monkeypatch.setattr(results.results, "collect", lambda root=None: table)
    exported = pd.read_csv(results.export_csv())
    assert exported["run"].tolist() == ["'=HYPERLINK(\"http://x\")", "plain"]
    assert exported["rougeL_x100"].tolist() == [12.5, -3.0]


def test_conditions_from_the_form_reach_the_grid():
    spec = results.spec_from(preset="quick", conditions=["base", "base+rag"])
    assert spec.conditions == ["base", "base+rag"]
    assert results.preset_values("facts")[6] == [c for c in grid.CONDITIONS if c not in grid_rlhf.RLHF_CONDITIONS]
    assert results.preset_values("rlhf")[6] == ["base", "ft", "ft+grpo", "ft+dpo"]
    with pytest.raises(gr.Error, match="conditions are one or more of"):
        results.plan_grid(preset="quick", conditions=["rag"])


def test_drill_down_picks_the_answers_given_with_a_collection(tmp_path, monkeypatch):
    use_runs(monkeypatch, tmp_path)
    run_dir = tmp_path / "base-eval"
    run_dir.mkdir()
    row = {"question": "q", "reference": "Wait 30 days.", "rouge1": 0.5, "rouge2": 0.5, "rougeL": 0.5,
           "rougeLsum": 0.5}
    for collection, answer, facts, missed in [(None, "Wait 10 days.", 0.0, ["30 days"]),
                                              ("sample-faq", "Wait 30 days.", 1.0, [])]:
        result = {"test_set": "brief", "knowledge": collection, "aggregate": {},
                  "rows": [{**row, "answer": answer, "facts": facts, "missed_facts": missed,
                            **({"sources": ["insurer_faq.csv row 3"]} if collection else {})}]}
        runs.write_json(evaluate.result_path(run_dir, "test_brief.csv", collection), result)
    plain = results.drill_down("base-eval · brief")
    grounded = results.drill_down("base-eval · brief · sample-faq")
    assert (plain.loc[0, "answer"], plain.loc[0, "facts"], plain.loc[0, "missed_facts"]) == ("Wait 10 days.", 0.0,
                                                                                             "30 days")
    assert (grounded.loc[0, "facts"], grounded.loc[0, "sources"]) == (100.0, "insurer_faq.csv row 3")
    assert list(plain.columns[:6]) == ["question", "reference", "answer", "rougeL", "facts", "missed_facts"]


def test_a_fresh_install_shows_the_sample_results_marked_until_the_user_has_their_own(tmp_path, monkeypatch):
    from studio.evaluation import results as collected

    sample = tmp_path / "sample_results"
    (sample / "shipped-eval").mkdir(parents=True)
    (sample / "ABOUT.md").write_text("# Sample results\n\nMeasured on a test machine, 4 Dec 2026.\n\nMore.\n")
    result = {"test_set": "brief", "knowledge": None, "questions": 1,
              "aggregate": {k: {"mean": 0.5, "low": 0.4, "high": 0.6} for k in ("rouge1", "rouge2", "rougeL",
                                                                                 "rougeLsum")},
              "rows": [{"question": "q", "reference": "r", "answer": "a", "rouge1": 0.5, "rouge2": 0.5,
                        "rougeL": 0.5, "rougeLsum": 0.5, "facts": None, "missed_facts": []}]}
    runs.write_json(evaluate.result_path(sample / "shipped-eval", "test_brief.csv"), result)
    monkeypatch.setattr(collected, "SAMPLE_RESULTS", sample)
    use_runs(monkeypatch, tmp_path / "runs")
    *_, table, pick, note = results.refresh()
    assert list(table["run"]) == ["shipped-eval"] and note.startswith("**Sample results**")
    assert "Measured on a test machine, 4 Dec 2026." in note
    assert results.drill_down("shipped-eval · brief").loc[0, "answer"] == "a"
    runs.write_json(evaluate.result_path(tmp_path / "runs" / "mine-eval", "test_brief.csv"), result)
    *_, table, pick, note = results.refresh()
    assert list(table["run"]) == ["mine-eval"] and note == "", "the user's own results replace the sample"


def test_the_runs_table_shows_the_columns_that_matter_and_the_export_keeps_all(tmp_path, monkeypatch):
    from studio.evaluation import results as collected

    use_runs(monkeypatch, tmp_path / "runs")
    monkeypatch.setattr(collected, "SAMPLE_RESULTS", tmp_path / "none")
    result = {"test_set": "brief", "knowledge": "mine", "questions": 1, "answer_style": "auto",
              "aggregate": {k: {"mean": 0.5, "low": 0.4, "high": 0.6} for k in ("rouge1", "rouge2", "rougeL",
                                                                                 "rougeLsum", "facts")},
              "rows": []}
    runs.write_json(evaluate.result_path(tmp_path / "runs" / "mine-eval", "test_brief.csv", "mine"), result)
    *_, table, pick, note = results.refresh()
    assert list(table.columns) == collected.SHOWN and len(table.columns) < 20
    assert table.loc[0, "facts"] == 50.0 and table.loc[0, "knowledge"] == "mine"
    exported = pd.read_csv(results.export_csv())
    assert list(exported.columns) == collected.COLUMNS


def test_the_shipped_sample_results_load_and_say_where_they_come_from():
    from studio.evaluation import results as collected

    table = collected.collect(collected.SAMPLE_RESULTS)
    assert set(table["condition"]) == {"base", "ft", "base+rag", "raft+rag"} and len(table) == 16
    grounded = table[table["condition"].str.endswith("+rag")]
    assert table["facts"].notna().all() and (grounded["knowledge"] == "mixed").all()
    trained = table[table["condition"] == "ft"]
    assert sorted(trained["train_examples"].unique()) == [178, 355] and set(trained["test_set"]) == {"brief", "detailed"}
    about = (collected.SAMPLE_RESULTS / "ABOUT.md").read_text()
    assert "2-core AMD EPYC" in about and "commit fba5ea9" in about and "studio evaluate" in about
    assert "studio grid --preset quick" in about
    for run in table["run"].unique():
        assert run in about, f"{run} is not described in ABOUT.md"
