"""The Results tab through gradio_client: memory benchmark as a queued job, results, drill-down, grid plan."""

import time

import pytest
from gradio_client import Client

import app
from chat import models
from training import jobs


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("results-ui") / "runs"
    patch = pytest.MonkeyPatch()
    patch.setattr(models, "RUNS_DIR", root)
    demo = app.build_app(default_model=f"folder:{tiny_models['llama']}", compare_model=f"folder:{tiny_models['gpt2']}")
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    yield Client(demo.local_url, verbose=False), root
    demo.close()
    patch.undo()


def test_memory_benchmark_runs_as_a_job_and_shows_in_results(server, tiny_models):
    client, root = server
    message = client.predict(f"folder:{tiny_models['llama']}", 1, 64, 2, api_name="/memory_bench")
    assert "Queued memory benchmark" in message
    [run] = jobs.list_runs(root)
    deadline = time.time() + 180
    while (state := jobs.reconcile(run.path)["state"]) not in ("finished", "failed"):
        assert time.time() < deadline
        time.sleep(0.5)
    assert state == "finished", jobs.reconcile(run.path)
    assert list((root / "memory-bench").glob("*.json")), "the result landed where the Results tab reads it"
    *figures, table, pick = client.predict(api_name="/results")
    memory_plot = figures[-1]
    assert "Running summary" in str(memory_plot) and "Last k exchanges" in str(memory_plot)


def test_grid_plan_is_shown_before_anything_runs(server, tiny_models):
    client, root = server
    plan = client.predict("quick", "ui-plan", [f"folder:{tiny_models['llama']}"], ["LoRA"], "1 2", "0.5 1",
                          "assets/insurer_faq.csv", api_name="/plan_grid")
    assert "5 cells" in plan and "Estimated time" in plan
    assert not [r for r in jobs.list_runs(root) if "ui-plan" in str(r.path)]


def test_grid_with_impossible_sizes_is_refused_with_a_reason(server, tiny_models):
    client, _ = server
    with pytest.raises(Exception, match="exceed the 355 training examples"):
        client.predict("report", "r", [f"folder:{tiny_models['llama']}"], ["LoRA"], "1 3", "200 400 800",
                       "assets/insurer_faq.csv", api_name="/plan_grid")
