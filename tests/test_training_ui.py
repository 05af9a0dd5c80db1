"""The Training tab driven through gradio_client: add data, start a job on a tiny model, see the adapter."""

import time

import pytest
from gradio_client import Client, handle_file

import app
from chat import models
from training import data


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    patch = pytest.MonkeyPatch()
    patch.setattr(models, "RUNS_DIR", root / "runs")
    patch.setattr(data, "DATASETS_DIR", root / "data")
    demo = app.build_app(default_model=f"folder:{tiny_models['llama']}", compare_model=f"folder:{tiny_models['gpt2']}")
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    yield demo.local_url, root
    demo.close()
    patch.undo()


def test_bad_file_is_explained_and_nothing_is_added(server, tmp_path):
    url, root = server
    bad = tmp_path / "faq.csv"
    bad.write_text("question,answer\nWhat is covered?,\nHow long?,Two years.\n")
    _, _, message = Client(url, verbose=False).predict(handle_file(str(bad)), "", "", api_name="/add_dataset")
    assert "was not added" in message and "row 2" in message and "empty answer" in message
    assert data.list_registered(root / "data") == []


def test_train_from_the_tab_and_chat_with_the_adapter(server, tiny_models, tmp_path):
    url, root = server
    client = Client(url, verbose=False)
    good = tmp_path / "my_faq.csv"
    good.write_text("Frage,Antwort\n" + "".join(f"Question {i}?,Answer {i}.\n" for i in range(12)))
    _, _, message = client.predict(handle_file(str(good)), "Frage", "Antwort", api_name="/add_dataset")
    assert "Added my_faq.csv: 12 Q/A pairs" in message
    registered = data.list_registered(root / "data")
    assert [d["name"] for d in registered] == ["my_faq"]
    dataset = str(registered[0]["path"])

    run_id = client.predict(f"folder:{tiny_models['llama']}", dataset, "LoRA", 1, 0.001, 4, 1.0, "qa", 7, 4, 256, 2,
                            False, api_name="/start_training")
    deadline = time.time() + 120
    while (status := client.predict(run_id, api_name="/run_status"))["state"] not in ("finished", "failed", "stopped"):
        assert time.time() < deadline, status
        time.sleep(0.5)
    assert status["state"] == "finished", status
    assert status["summary"]["train_examples"] == 11 and status["adapter"]

    table = client.predict(api_name="/models")
    adapter_refs = [row[1] for row in table["data"] if row[1].startswith("adapter:")]
    assert adapter_refs == [f"adapter:{root / 'runs' / run_id}"]
    chatbot, *_ = client.predict("Question 3?", adapter_refs[0], "buffer", 3, 256, "", 8, 0.0, 0.9, 1.0, "float32",
                                 api_name="/chat")
    assert chatbot[-1]["role"] == "assistant"


def test_bad_job_settings_are_refused_before_anything_runs(server, tiny_models):
    url, root = server
    client = Client(url, verbose=False)
    with pytest.raises(Exception, match="learning_rate must be positive"):
        client.predict(f"folder:{tiny_models['llama']}", "assets/insurer_faq.csv", "LoRA", 1, -0.1, 4, 1.0, "qa",
                       7, 4, 256, 2, False, api_name="/start_training")
    with pytest.raises(Exception, match="unavailable"):
        client.predict("hub:EleutherAI/pythia-12b", "assets/insurer_faq.csv", "LoRA", 1, 0.001, 4, 1.0, "qa",
                       7, 4, 256, 2, False, api_name="/start_training")


def test_qa_pairs_become_conversations_for_dialogue_mode(server):
    url, root = server
    client = Client(url, verbose=False)
    _, _, message, mode = client.predict("assets/insurer_faq.csv", "templates", "bundled:smollm2-135m-instruct", 3,
                                         api_name="/make_conversations")
    assert "Made" in message and "conversations from 395 Q/A pairs" in message and mode == "dialogue"
    made = [d for d in data.list_registered(root / "data") if d["name"] == "insurer_faq_conversations"]
    assert made and made[0]["kind"] == "conversations" and 100 <= made[0]["rows"] <= 150
