"""Conversational QA Studio: `python app.py` starts the app on http://127.0.0.1:7860 (`--help` for the options).

As a Hugging Face Space (SPACE_ID, GRADIO_SERVER_NAME=0.0.0.0 set by the platform) it serves on 0.0.0.0 in
shared mode; see studio/access.py for who may reach the app and what a visitor may name.
"""

from __future__ import annotations

import os
import sys

from studio import access

# Before gradio and huggingface_hub are imported (both read these once): analytics off, hub offline unless asked.
access.prepare_environment(sys.argv[1:] if __name__ == "__main__" else [], os.environ)

import threading  # noqa: E402

import gradio as gr  # noqa: E402

from studio import logins
from studio.core import paths
from studio.engines import loader
from studio.jobs import queue
from studio.models import catalogue, refs
from studio.ui import chat, knowledge, results, training, visitor
from studio.ui.chat import build_chat_tab
from studio.ui.compare import build_compare_tab
from studio.ui.knowledge import build_knowledge_tab
from studio.ui.models import build_models_tab
from studio.ui.results import build_results_tab
from studio.ui.training import build_training_tab

TITLE = "Conversational QA Studio"
FALLBACK_MODELS = ("smollm2-135m-instruct", "gemma-3-270m")
"""Bundled models to start with when the default's package is missing, and Compare's model B: SmolLM2 first, the
fastest (a Space installs requirements.txt alone, which cannot hold SmolLM2's package: B is then Gemma)."""
START_HERE = [
    ("1. Build a collection from your FAQ and documents (Knowledge)", "knowledge"),
    ("2. Ask it: answers come with their sources and a check (Chat)", "chat"),
    ("3. Prove it: evaluate the collection (Knowledge), read the scores (Results)", "results"),
]
"""The first page's three steps of the job the app is for, each a button to its tab."""
SHARED_NOTE = ("Shared mode: only registered datasets, the sample files, catalogue models and runs can be used; "
               "paths on the server are refused.")


def build_app(default_model: str = str(refs.DEFAULT_MODEL), compare_model: str | None = None,
              shared: bool | None = None) -> gr.Blocks:
    shared = access.shared_mode() if shared is None else shared
    # Shared: the lists a page starts with are those of a visitor with nothing of their own yet (the samples);
    # each page load and each handler then reads its visitor's own (studio/ui/visitor.py).
    with paths.workspace(visitor.PAGE_WORKSPACE if shared else ""):
        return _build(default_model, compare_model, shared)


def _build(default_model: str, compare_model: str | None, shared: bool) -> gr.Blocks:
    with gr.Blocks(title=TITLE, delete_cache=access.DELETE_CACHE if shared else None) as demo:
        gr.Markdown(f"# {TITLE}\nA chatbot that answers from your own FAQ and documents, shows its sources, checks "
                    "every answer against them, and proves on your data how often it is right. Fine-tune small "
                    "open models on your Q/A data, compare them, measure it all."
                    + (f"\n\n*{SHARED_NOTE}*" if shared else ""))
        with gr.Accordion("Start here", open=True):
            steps = [gr.Button(label, size="sm") for label, _ in START_HERE]
        with gr.Tabs() as tabs:  # in the order of the job: your data in, answers out, proof, then tuning
            with gr.Tab("Knowledge", id="knowledge"):
                knowledge_view = build_knowledge_tab()
            with gr.Tab("Chat", id="chat"):
                kept_chat, chat_view = build_chat_tab(default_model)
            with gr.Tab("Results", id="results") as results_tab:
                grid_form = build_results_tab(results_tab)
            with gr.Tab("Training", id="training"):
                training_form = build_training_tab(default_model)
            with gr.Tab("Compare", id="compare"):
                build_compare_tab(default_model, compare_model)
            with gr.Tab("Models", id="models"):
                build_models_tab()
        for button, (_, tab) in zip(steps, START_HERE):
            button.click(lambda tab=tab: gr.Tabs(selected=tab), None, tabs, api_visibility="private")
        # a page opened (or reloaded) later than the app started lists what was added since, in any session
        demo.load(knowledge.page_view, None, knowledge_view, api_visibility="private")
        demo.load(chat.restore, kept_chat, chat_view, api_visibility="private")  # the browser's own conversation
        demo.load(training.page_choices, None, [training_form["data"], training_form["model"]],
                  api_visibility="private")
        demo.load(results.page_choices, None, [grid_form["data"], grid_form["tests"], grid_form["collection"]],
                  api_visibility="private")
        demo.unload(visitor.forget_session)  # an anonymous visitor's scratch workspace goes when they leave
    return visitor.scope_to_visitors(demo)  # every handler in its visitor's folders (studio/ui/visitor.py)


def available_defaults(model: str | None, compare_model: str | None) -> tuple[str, str | None]:
    """The models the Chat and Compare tabs open with: the ones asked for, else the default bundled model when its
    package is installed, else the first installed of FALLBACK_MODELS (the tab then says what is missing)."""
    if model and compare_model:
        return model, compare_model
    installed = [key for key in (refs.DEFAULT_MODEL.id, *FALLBACK_MODELS)
                 if catalogue.describe(refs.ModelRef("bundled", key)).available]
    chosen = model or str(refs.ModelRef("bundled", installed[0]) if installed else refs.DEFAULT_MODEL)
    if compare_model is None:
        others = [str(refs.ModelRef("bundled", key)) for key in installed if key in FALLBACK_MODELS]
        compare_model = next((ref for ref in others if ref != chosen), None)
    return chosen, compare_model


def warm_up(ref: str) -> None:
    """Prepare and load the default model in the background so the first message is answered quickly."""
    try:
        loader.load_model(ref, progress=lambda msg: print(msg, flush=True))
        print(f"Default model {ref} loaded.", flush=True)
    except refs.ModelError as e:
        print(f"Default model not ready: {e}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = access.launch_parser(TITLE)
    parser.add_argument("--model", default=None,
                        help=f"default model reference or folder (else {refs.DEFAULT_MODEL} when installed)")
    parser.add_argument("--compare-model", default=None, help="model B of the Compare tab")
    parser.add_argument("--no-warm-up", action="store_true", help="do not load the default model at start")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = access.settings_from(args, os.environ)
    except access.AccessError as e:
        parser.error(str(e))
    access.record_mode(settings, os.environ)
    model, compare_model = available_defaults(args.model, args.compare_model)
    where = "a Hugging Face Space" if settings.space else f"http://{settings.host}:{settings.port}"
    print(f"{TITLE} on {where}: shared mode {'on' if settings.shared else 'off'}, "
          f"{len(settings.auth)} login(s), hub downloads {'allowed' if settings.allow_downloads else 'off'}, "
          f"default model {model}.", flush=True)
    if not args.no_warm_up:
        threading.Thread(target=warm_up, args=(model,), daemon=True).start()
    queue.start_queue_runner()
    demo = build_app(model, compare_model, shared=settings.shared)
    demo.queue(max_size=settings.queue_size).launch(theme=gr.themes.Soft(), css=chat.PAGE_CSS,
                                                    app_kwargs=logins.app_kwargs(len(settings.auth), settings.space),
                                                    **settings.launch_kwargs())


if __name__ == "__main__":
    main()
