"""studio/training/export.py and studio/training/modelfile.py: a finished run -> merged GGUF + Ollama Modelfile, checked in
llama.cpp; every bad request refused with a message and nothing written.

The run is a real (two-step) LoRA training of the tiny Llama from tests/tiny_gguf.py. Exports need llama.cpp:
those tests skip where llama-cpp-python is not installed (`make test` installs it).
"""

import csv
import importlib.util
import json
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest
from transformers import AutoTokenizer

from studio.engines import prompts
from studio.jobs import runs
from studio.jobs.kinds import EvalJob, SFTJob
from studio.models import bundled, gguf_files
from studio.training import export, modelfile, sft
from studio.training.examples import load_examples

needs_llama_cpp = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                     reason="llama-cpp-python is not installed (make llama)")
SYSTEM = "You answer questions about Nilgiri Health policies."
RUN = "tiny-run"


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory, tiny_llama) -> Path:
    """A runs folder holding one finished two-step LoRA run on the tiny Llama, trained with SYSTEM."""
    root = tmp_path_factory.mktemp("runs")
    data = root.parent / "faq.csv"
    with open(data, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "answer"])
        for i in range(12):
            writer.writerow([f"What is the waiting period for illness {i}?", f"It is {i + 1} months."])
    cfg = SFTJob(model=f"folder:{tiny_llama}", data=str(data), batch_size=4, max_steps=2, learning_rate=5e-2,
                 threads=1, system_prompt=SYSTEM)
    run_dir = root / RUN
    run_dir.mkdir()
    cfg.save(run_dir / runs.CONFIG)
    assert sft.run(cfg, run_dir)["state"] == "finished"
    return root


@pytest.fixture
def run_dir(runs_root, gguf_cache, monkeypatch) -> Path:
    monkeypatch.setenv("CQA_RUNS_DIR", str(runs_root))
    return runs_root / RUN


def last_logits(path: Path, text: str) -> np.ndarray:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(path), n_ctx=128, n_threads=1, logits_all=True, verbose=False)
    tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
    llm.eval(tokens)
    row = np.array(llm.scores[llm.n_tokens - 1])
    llm.close()
    return row


# -------------------------------------------------------------------------------------------------- exports


@needs_llama_cpp
def test_a_finished_run_exports_a_quantized_gguf_a_modelfile_and_a_checked_answer(run_dir):
    result = export.export_run(RUN, "Q8_0", progress=lambda message: None)
    out = runs.export_dir(run_dir, "Q8_0")
    gguf_file = out / f"{RUN}.Q8_0.gguf"
    assert result["gguf"] == str(gguf_file) and gguf_file.stat().st_size == result["size_bytes"]
    assert "Q8_0" in {t.tensor_type.name for t in gguf.GGUFReader(gguf_file).tensors}
    assert json.loads((out / runs.EXPORT_RESULT).read_text()) == result
    assert result["check"]["loaded"] and result["check"]["tokens"] > 0
    assert result["check"]["question"].startswith("What is the waiting period for illness")  # a held-out one
    assert result["prompt_format"] == "chatml"
    text = (out / runs.MODELFILE).read_text()
    assert text.startswith(f"FROM ./{RUN}.Q8_0.gguf\n")
    assert f'SYSTEM """{SYSTEM}"""' in text and 'PARAMETER stop "<|im_end|>"' in text
    assert 'TEMPLATE """{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}' in text
    assert sorted(p.name for p in out.iterdir()) == sorted([gguf_file.name, runs.MODELFILE, runs.EXPORT_RESULT])


@needs_llama_cpp
def test_the_cli_exports_f16_to_a_chosen_folder_with_the_adapter_merged_in(run_dir, tiny_llama_gguf, tmp_path,
                                                                           capsys):
    out = tmp_path / "exported"
    assert export.main([RUN, "--quant", "F16", "--out", str(out)]) == 0
    gguf_file = out / f"{RUN}.F16.gguf"
    assert str(gguf_file) in capsys.readouterr().out
    assert not runs.export_dir(run_dir, "F16").exists()
    base = tiny_llama_gguf
    prompt = modelfile.CHATML.render(SYSTEM, [{"role": "user", "content": "What is the waiting period?"}])
    assert not np.allclose(last_logits(gguf_file, prompt), last_logits(base, prompt), atol=1e-3)


@needs_llama_cpp
def test_a_failure_halfway_leaves_nothing_behind(run_dir, monkeypatch):
    def fail(src, dst, kind):
        dst.write_bytes(b"half")
        raise gguf_files.GgufError("disk full")

    monkeypatch.setattr(gguf_files, "quantize_gguf", fail)
    before = sorted(p for p in run_dir.rglob("*"))
    with pytest.raises(export.ExportError, match="exporting run tiny-run to Q4_K_M failed: disk full"):
        export.export_run(RUN, "Q4_K_M", progress=lambda message: None)
    assert sorted(p for p in run_dir.rglob("*")) == before


# ---------------------------------------------------------------------------------------------- bad requests


def make_run(root: Path, name: str, config: str | None, state: str | None, adapter_from: Path | None) -> None:
    folder = root / name
    folder.mkdir()
    if config:
        (folder / runs.CONFIG).write_text(config)
    if state:
        runs.write_json(folder / runs.STATUS, {"state": state})
    if adapter_from:
        (folder / runs.ADAPTER).mkdir()
        for path in adapter_from.iterdir():
            (folder / runs.ADAPTER / path.name).write_bytes(path.read_bytes())


BAD = [
    ("no-such-run", "Q8_0", "there is no run 'no-such-run'"),
    ("../etc", "Q8_0", "is not a run id"),
    ("running", "Q8_0", "run running is running: export a finished run"),
    ("failed", "Q8_0", "run failed is failed"),
    ("evaluation", "Q8_0", "not a training run"),
    ("no-adapter", "Q8_0", "has no adapter"),
    ("broken-config", "Q8_0", "cannot read config"),
    (RUN, "Q5_K", "unknown quantization 'Q5_K'; choose one of Q8_0, Q4_K_M, F16"),
]


@pytest.mark.parametrize("run_id, quant, message", BAD, ids=[f"{r}-{q}" for r, q, _ in BAD])
def test_bad_requests_are_refused_with_a_message_and_write_nothing(runs_root, tmp_path, monkeypatch, run_id, quant,
                                                                    message):
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("CQA_RUNS_DIR", str(root))
    config = (runs_root / RUN / runs.CONFIG).read_text()
    adapter = runs_root / RUN / runs.ADAPTER
    make_run(root, RUN, config, "finished", adapter)
    make_run(root, "running", config, "running", adapter)
    make_run(root, "failed", config, "failed", adapter)
    make_run(root, "evaluation", EvalJob(model="bundled:smollm2-135m-instruct").to_json(), "finished", None)
    make_run(root, "no-adapter", config, "finished", None)
    make_run(root, "broken-config", "{not json", "finished", adapter)
    before = sorted(p for p in root.rglob("*"))
    with pytest.raises(export.ExportError, match=message):
        export.export_run(run_id, quant)
    assert sorted(p for p in root.rglob("*")) == before
    assert export.main([run_id, "--quant", quant]) == 1
    assert list(export.export_messages(run_id, quant))[-1].startswith("⚠️")


def test_export_says_so_when_llama_cpp_is_missing(runs_root, monkeypatch):
    monkeypatch.setenv("CQA_RUNS_DIR", str(runs_root))
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    before = sorted(p for p in (runs_root / RUN).rglob("*"))
    with pytest.raises(export.ExportError, match="cannot export to GGUF: llama-cpp-python is not installed"):
        export.export_run(RUN, "Q8_0")
    assert sorted(p for p in (runs_root / RUN).rglob("*")) == before


def test_the_check_asks_a_held_out_question_of_the_run_or_a_general_one_when_its_data_is_gone(runs_root):
    cfg = runs.read_config(runs_root / RUN)
    trained_on = {example.messages[-1]["content"] for example in load_examples(cfg)[0]}
    asked = export.check_question(cfg)
    assert asked.startswith("What is the waiting period for illness") and asked not in trained_on
    cfg.data = str(runs_root / "gone.csv")
    assert export.check_question(cfg) == export.CHECK_QUESTION


def test_the_export_button_stream_asks_for_a_run_first():
    assert list(export.export_messages(None, "Q8_0")) == ["Pick a run first."]


@needs_llama_cpp
def test_the_export_button_streams_progress_then_where_the_files_are(run_dir):
    lines = list(export.export_messages(RUN, "F16"))
    assert any(line.startswith("⏳ Merging the adapter") for line in lines)
    assert lines[-1].startswith("✅ Exported") and f"ollama create {RUN}" in lines[-1]
    assert (runs.export_dir(run_dir, "F16") / runs.EXPORT_RESULT).is_file()


# ------------------------------------------------------------------------------------------------ Modelfile


CONVERSATION = [{"role": "user", "content": "Hi, I am Priya."}, {"role": "assistant", "content": "Hello Priya!"},
                {"role": "user", "content": "What is the free look period?"}]


def tokenizers_to_compare(tiny_llama) -> list[tuple[str, object]]:
    found = [("tiny-llama", AutoTokenizer.from_pretrained(tiny_llama))]
    for key in ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"):  # their converted folders, when made
        if bundled.is_converted(key):
            found.append((key, AutoTokenizer.from_pretrained(bundled.bundled_folder(key))))
    return found


def test_the_modelfile_format_renders_what_the_chat_renders(tiny_llama):
    for name, tokenizer in tokenizers_to_compare(tiny_llama):
        fmt = modelfile.chat_format("chat", tokenizer)
        assert fmt.render(SYSTEM, CONVERSATION) == prompts.render("chat", tokenizer, CONVERSATION, SYSTEM), name
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    for style in ("qa", "instruction", "turns"):
        fmt = modelfile.chat_format(style, tokenizer)
        expected = prompts.render(style, tokenizer, CONVERSATION, "" if style == "turns" else SYSTEM)
        assert fmt.render(SYSTEM, CONVERSATION) == expected, style


def test_the_modelfile_refuses_what_it_cannot_write(tiny_llama):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    tokenizer.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% endfor %}"
    with pytest.raises(modelfile.FormatError, match="only ChatML"):
        modelfile.chat_format("chat", tokenizer)
    with pytest.raises(modelfile.FormatError, match='system prompt contains """'):
        modelfile.modelfile_text("m.gguf", modelfile.CHATML, 'Say """hi"""')
    qa = modelfile.modelfile_text("m.gguf", modelfile.QA, SYSTEM)
    assert 'PARAMETER stop "Question:"' in qa and "\\n" not in qa.split("PARAMETER", 1)[1]


# ------------------------------------------------------------------------------------------------ the button


@needs_llama_cpp
def test_the_training_tab_export_button_exports_the_chosen_run_and_quantization(run_dir, tmp_path, monkeypatch):
    import gradio as gr
    from gradio_client import Client

    from studio.ui import training

    monkeypatch.setenv("CQA_DATA_DIR", str(tmp_path / "data"))
    with gr.Blocks() as demo:
        training.build_training_tab()
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        assert client.predict("no-such-run", "Q8_0", api_name="/export_gguf").startswith("⚠️ there is no run")
        message = client.predict(RUN, "Q4_K_M", api_name="/export_gguf")
    finally:
        demo.close()
    assert message.startswith("✅ Exported") and "Q4_K_M" in message
    assert (runs.export_dir(run_dir, "Q4_K_M") / f"{RUN}.Q4_K_M.gguf").is_file()


def test_one_export_runs_at_a_time_even_after_its_page_went_away(monkeypatch):
    """An export goes on after the page that asked for it closed; a second one is refused until it ends."""
    import threading

    from studio.training import export

    release = threading.Event()

    def slow_export(run_id, quant, progress):
        progress("converting")
        release.wait(10)
        return {"gguf": "m.gguf", "size_bytes": 1e6, "modelfile": "Modelfile",
                "check": {"question": "q", "answer": "a"}}

    monkeypatch.setattr(export, "check_request", lambda run_id, quant: None)
    monkeypatch.setattr(export, "export_run", slow_export)
    first = export.export_messages("run-a", "q8_0")
    assert next(first) == "⏳ converting"
    first.close()  # the visitor left; the export thread goes on
    [refused] = list(export.export_messages("run-b", "q8_0"))
    assert refused.startswith("⚠️ Another export is running")
    release.set()
    for _ in range(100):
        if export._one_export.acquire(blocking=False):
            export._one_export.release()
            break
        threading.Event().wait(0.05)
    assert list(export.export_messages("run-b", "q8_0"))[-1].startswith("✅ Exported")
