"""Export a finished fine-tuning run as one GGUF file plus an Ollama Modelfile, checked in llama.cpp.

    python -m studio export RUN_ID [--quant Q8_0|Q4_K_M|F16] [--out DIR]

The run's LoRA adapter is merged into its base model (PEFT merge_and_unload on the base folder's weights in fp32,
studio.training.lora.merge_adapter) and saved as a plain model folder in a temporary folder; llama.cpp's
convert_hf_to_gguf.py turns it into an F16 GGUF, which llama.cpp quantizes to the chosen kind. A Modelfile beside
it names the file, the prompt template the model was trained with (Go-template form), the run's system prompt and
the stop strings (studio/training/modelfile.py). Then the file is loaded in llama_cpp and answers a question greedily; the
answer is recorded in export.json. Default folder: runs/<id>/export/<quant>/ (studio/jobs/runs.py). Everything is made
in a temporary folder inside the destination and moved in only when complete: a failed export leaves nothing.
"""

from __future__ import annotations

import argparse
import contextvars
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from studio.jobs import runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import SFTJob
from studio.models import catalogue, gguf_files, refs
from studio.training import modelfile

QUANTS = ("Q8_0", "Q4_K_M", "F16")
"""Offered in the Training tab and the CLI; Q8_0 first: nearly lossless, and the quantization small models keep
their answers best in."""
CHECK_QUESTION = "What can you help me with?"
"""Asked when the run's own held-out questions cannot be read (see check_question)."""
CHECK_TOKENS = 16
EXPORTABLE_STATES = ("finished", "stopped")
"""A stopped run keeps the adapter trained so far (the Training tab says so), so it can be exported too."""


class ExportError(Exception):
    """An export that cannot be made; the message says why and what to do. Nothing was written."""


def check_request(run_id: str, quant: str) -> tuple[Path, SFTJob]:
    """The run folder and its training config, or ExportError saying why this run cannot be exported (cheap)."""
    if quant not in QUANTS:
        raise ExportError(f"unknown quantization {quant!r}; choose one of {', '.join(QUANTS)}")
    try:
        run_dir = runs.run_path(run_id)
    except runs.RunError as e:
        raise ExportError(str(e)) from e
    if not run_dir.is_dir():
        raise ExportError(f"there is no run {run_id!r} in {runs.root()}")
    try:
        cfg = runs.read_config(run_dir)
    except ConfigError as e:
        raise ExportError(f"run {run_id} cannot be exported: {e}") from e
    if cfg.KIND != "sft":
        raise ExportError(f"run {run_id} is an evaluation or benchmark ({cfg.KIND}), not a training run: only a "
                          "training run has an adapter to export")
    state = runs.read_status(run_dir).get("state", "unknown")
    if state not in EXPORTABLE_STATES:
        raise ExportError(f"run {run_id} is {state}: export a finished run (or one stopped with its adapter kept)")
    if not (run_dir / runs.ADAPTER / catalogue.ADAPTER_CONFIG).is_file():
        raise ExportError(f"run {run_id} has no adapter ({run_dir / runs.ADAPTER} holds no "
                          f"{catalogue.ADAPTER_CONFIG}): nothing to export")
    if problem := gguf_files.llama_cpp_problem():
        raise ExportError(f"cannot export to GGUF: {problem}")
    return run_dir, cfg


def export_run(run_id: str, quant: str = QUANTS[0], out: str | Path | None = None,
               progress: Callable[[str], None] = print) -> dict:
    """Export run `run_id` (see the module docstring); returns what export.json holds."""
    started = time.time()
    run_dir, cfg = check_request(run_id, quant)
    adapter = run_dir / runs.ADAPTER
    try:
        entry = catalogue.describe(refs.ModelRef("adapter", str(adapter)))
        if not entry.available:
            raise ExportError(f"run {run_id} cannot be exported: {entry.reason}")
        if entry.seq2seq:
            raise ExportError(f"run {run_id} fine-tuned {entry.name}, an encoder-decoder model: llama.cpp's chat "
                              "runs decoder-only models, so it is not exported")
        base = catalogue.adapter_base(adapter)
        base_folder = catalogue.weights_folder(base, progress)
        from transformers import AutoTokenizer

        fmt = modelfile.chat_format(entry.prompt_style, AutoTokenizer.from_pretrained(base_folder))
        modelfile.modelfile_text("check.gguf", fmt, cfg.system_prompt)  # refuses an unquotable system prompt now
    except (refs.ModelError, modelfile.FormatError, OSError) as e:
        raise ExportError(f"run {run_id} cannot be exported: {e}") from e

    out = Path(out).expanduser() if out else runs.export_dir(run_dir, quant)
    created = next((folder for folder in reversed([out, *out.parents]) if not folder.exists()), None)
    out.mkdir(parents=True, exist_ok=True)
    name = runs.export_gguf_name(run_id, quant)
    try:
        with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as tmp:
            tmp = Path(tmp)
            progress(f"Merging the adapter into {base} (fp32)...")
            from studio.training.lora import merge_adapter

            merged = merge_adapter(base_folder, adapter, tmp / "merged", seq2seq=False)
            progress("Converting the merged model to GGUF F16 (llama.cpp's convert_hf_to_gguf.py)...")
            f16 = gguf_files.convert_folder(merged, tmp / "f16.gguf", progress)
            shutil.rmtree(merged)
            gguf = tmp / name
            if quant == "F16":
                os.replace(f16, gguf)
            else:
                progress(f"Quantizing to {quant}...")
                gguf_files.quantize_gguf(f16, gguf, quant)
                f16.unlink()
            (tmp / runs.MODELFILE).write_text(modelfile.modelfile_text(name, fmt, cfg.system_prompt))
            progress("Checking that llama.cpp loads the file and answers...")
            check = check_answers(gguf, fmt, cfg.system_prompt, check_question(cfg))
            result = {
                "run": run_id, "quant": quant, "gguf": str(out / name), "modelfile": str(out / runs.MODELFILE),
                "size_bytes": gguf.stat().st_size, "base_model": str(base), "prompt_format": fmt.name,
                "system_prompt": cfg.system_prompt, "check": check, "seconds": round(time.time() - started, 1),
                "llama_cpp_python": gguf_files.LLAMA_CPP_VERSION,
            }
            runs.write_json(tmp / runs.EXPORT_RESULT, result)
            for file in (name, runs.MODELFILE, runs.EXPORT_RESULT):  # export.json last: it marks a whole export
                os.replace(tmp / file, out / file)
    except (gguf_files.GgufError, refs.ModelError, OSError, ValueError, RuntimeError) as e:
        if created:
            shutil.rmtree(created, ignore_errors=True)
        raise ExportError(f"exporting run {run_id} to {quant} failed: {e}") from e
    except BaseException:
        if created:
            shutil.rmtree(created, ignore_errors=True)
        raise
    progress(f"Exported {out / name} ({result['size_bytes'] / 1e6:.0f} MB) and its Modelfile.")
    return result


def check_question(cfg: SFTJob) -> str:
    """A question the run held out for validation (the same seeded split training made), so the check shows what
    the fine-tune learned; CHECK_QUESTION when the run's data is not Q/A pairs or cannot be read any more."""
    from studio.data import files, qa, registry

    try:
        source = Path(cfg.data)
        dataset = (qa.load_file(source, cfg.question_column, cfg.answer_column) if source.exists()
                   else registry.load_registered(cfg.data))
        held_out = qa.split(dataset.records, cfg.val_fraction, cfg.seed)[1]
    except (files.DataError, OSError, ValueError):
        return CHECK_QUESTION
    return held_out[0]["question"] if dataset.kind == "qa" and held_out else CHECK_QUESTION


def check_answers(gguf: Path, fmt: modelfile.ChatFormat, system_prompt: str, question: str = CHECK_QUESTION) -> dict:
    """Load `gguf` in llama_cpp and answer `question` greedily in the model's format; ExportError when it does not
    load or answers nothing."""
    import llama_cpp

    prompt = fmt.render(system_prompt, [{"role": "user", "content": question}])
    started = time.perf_counter()
    try:
        llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=1024, n_threads=max(1, len(os.sched_getaffinity(0))),
                              seed=0, verbose=False)
        tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
        if tokens[:2] == [llm.token_bos()] * 2:  # the template wrote the BOS text already
            tokens = tokens[1:]
        done = llm.create_completion(tokens, max_tokens=CHECK_TOKENS, temperature=0.0, top_k=1, stop=list(fmt.stop))
        llm.close()
    except (ValueError, RuntimeError, OSError) as e:
        raise ExportError(f"llama.cpp could not load or run the exported file {gguf.name}: {e}") from e
    seconds = time.perf_counter() - started
    tokens = int(done["usage"]["completion_tokens"])
    answer = done["choices"][0]["text"]
    if tokens == 0:
        raise ExportError(f"llama.cpp loaded {gguf.name} but it answered nothing to {question!r}")
    return {"question": question, "answer": answer, "tokens": tokens, "seconds": round(seconds, 2),
            "loaded": True}


_one_export = threading.Semaphore(1)
"""Exports the app runs at once: an export goes on after the page that asked for it closed, so without a limit
visitors could pile them up."""


def export_messages(run_id: str | None, quant: str) -> Iterator[str]:
    """Run an export on a background thread and yield its progress lines, then a final Markdown line: what the
    Training tab's Export button streams (the page stays responsive; the export is not a queued job)."""
    if not run_id:
        yield "Pick a run first."
        return
    try:
        check_request(run_id, quant)
    except ExportError as e:
        yield f"⚠️ {e}"
        return
    if not _one_export.acquire(blocking=False):
        yield ("⚠️ Another export is running on this machine (one at a time: each takes minutes of every core and "
               "gigabytes of disk); try again when it has finished.")
        return
    lines: queue.Queue[str | None] = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = export_run(run_id, quant, progress=lines.put)
        except ExportError as e:
            outcome["error"] = str(e)
        except Exception as e:  # noqa: BLE001 - shown on the page instead of lost in a thread
            outcome["error"] = f"{type(e).__name__}: {e}"
        finally:
            _one_export.release()  # when the export ends, not when the page that asked for it goes away
            lines.put(None)

    # in this handler's context: the visitor's workspace (studio/core/paths.py) names the run's folder
    threading.Thread(target=contextvars.copy_context().run, args=(work,), name=f"export-{run_id}", daemon=True).start()
    while (line := lines.get()) is not None:
        yield f"⏳ {line}"
    if "error" in outcome:
        yield f"⚠️ {outcome['error']}"
        return
    result = outcome["result"]
    yield (f"✅ Exported `{result['gguf']}` ({result['size_bytes'] / 1e6:.0f} MB) and `{result['modelfile']}`. "
           f"llama.cpp check: asked {result['check']['question']!r}, answered {result['check']['answer'].strip()!r}. "
           f"Use it with: `ollama create {run_id.lower()} -f {result['modelfile']}`")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_id", help="a finished training run's id (its folder name under the runs folder)")
    parser.add_argument("--quant", default=QUANTS[0], help=f"one of {', '.join(QUANTS)} (default {QUANTS[0]})")
    parser.add_argument("--out", help="folder to write into (default: runs/<id>/export/<quant>)")
    args = parser.parse_args(argv)
    runs.quiet_libraries()
    try:
        result = export_run(args.run_id, args.quant, args.out)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{result['gguf']}\n{result['modelfile']}\ncheck: {result['check']['question']!r} -> "
          f"{result['check']['answer'].strip()!r} ({result['check']['tokens']} tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
