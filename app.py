"""Conversational QA Studio: `python app.py` starts the app on http://127.0.0.1:7860."""

from __future__ import annotations

import os

# Offline by default: nothing is downloaded at run time, and Gradio must not phone home before it is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import argparse  # noqa: E402
import threading  # noqa: E402

import gradio as gr  # noqa: E402

from chat import models  # noqa: E402
from chat.ui import build_chat_tab, build_compare_tab, build_models_tab  # noqa: E402
from eval.ui import build_results_tab  # noqa: E402
from training import jobs  # noqa: E402
from training.ui import build_training_tab  # noqa: E402

TITLE = "Conversational QA Studio"


def build_app(default_model: str = str(models.DEFAULT_MODEL), compare_model: str | None = None) -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nFine-tune small open models on your own Q/A data, chat with them under a memory of "
                    "your choice, compare them side by side, and measure it all.")
        with gr.Tab("Chat"):
            build_chat_tab(default_model)
        with gr.Tab("Compare"):
            build_compare_tab(default_model, compare_model)
        with gr.Tab("Training"):
            build_training_tab()
        with gr.Tab("Results") as results_tab:
            build_results_tab(results_tab)
        with gr.Tab("Models"):
            build_models_tab()
    return demo


def warm_up(ref: str) -> None:
    """Prepare and load the default model in the background so the first message is answered quickly."""
    try:
        models.load_model(ref, progress=lambda msg: print(msg, flush=True))
        print(f"Default model {ref} loaded.", flush=True)
    except models.ModelError as e:
        print(f"Default model not ready: {e}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--model", default=str(models.DEFAULT_MODEL), help="default model reference or folder")
    parser.add_argument("--compare-model", default=None, help="model B of the Compare tab")
    parser.add_argument("--no-warm-up", action="store_true", help="do not load the default model at start")
    args = parser.parse_args()
    if not args.no_warm_up:
        threading.Thread(target=warm_up, args=(args.model,), daemon=True).start()
    jobs.start_queue_runner()
    demo = build_app(args.model, args.compare_model)
    demo.queue().launch(server_name=args.host, server_port=args.port, theme=gr.themes.Soft())


if __name__ == "__main__":
    main()
