"""The Compare tab: two models answer the same message in turn, each with its own memory, under one set of
settings (the widgets and turn helpers are studio.ui.chat_settings', as in the Chat tab).
"""

from __future__ import annotations

import gradio as gr

from studio.memory import MemoryState
from studio.models import refs
from studio.models.refs import ModelRef
from studio.ui.chat_settings import (
    GENERATE,
    LAST_SETTINGS,
    chat_settings,
    check,
    knowledge_picker,
    loading,
    memory_widgets,
    model_picker,
    settings_widgets,
    shown_messages,
    turn_stats,
    turns,
)


def compare(message: str, model_a: str, model_b: str, state_a: MemoryState, state_b: MemoryState,
            sources_a: dict | None = None, sources_b: dict | None = None, **form):
    """Both models answer the same message, each with its own memory; A streams, then B. `form`: the settings
    by name (see chat_settings), shared by both.

    Yields (chatbot A, chatbot B, stats A, stats B, state A, state B, textbox, sources A, sources B). Taking turns
    keeps each model's timing honest on a CPU, where two generations at once slow each other down.
    """
    check(message)
    config, settings, precision, knowledge_config = chat_settings(form)
    # the box is emptied once, as the message is taken: a question typed while the replies stream is kept
    yield gr.skip(), gr.skip(), "Loading...", "Loading...", gr.skip(), gr.skip(), "", gr.skip(), gr.skip()
    engine = form.get("engine", "auto")
    loaded = []
    for side, ref in (("A", model_a), ("B", model_b)):
        for step in loading(ref, precision, engine):
            if isinstance(step, str):
                shown = f"Loading model {side}: {step}"
                yield gr.skip(), gr.skip(), shown, shown, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            else:
                loaded.append(step)
    loaded_a, loaded_b = loaded
    sources_a, sources_b = sources_a or {}, sources_b or {}
    shown_a, stats_a, state_a_now, sources_a_now = [dict(m) for m in state_a.messages], "", state_a, sources_a
    for update, sources_a_now in turns(loaded_a, config, state_a, message, settings, knowledge_config, sources_a):
        shown_a = shown_messages(update, sources_a_now)
        stats_a = turn_stats(update, knowledge_config.collection)
        state_a_now = update.state
        yield shown_a, gr.skip(), stats_a, "Waiting for model A...", state_a_now, gr.skip(), gr.skip(), \
            sources_a_now, gr.skip()
    for update, sources_b_now in turns(loaded_b, config, state_b, message, settings, knowledge_config, sources_b):
        stats_b = turn_stats(update, knowledge_config.collection)
        yield (shown_a, shown_messages(update, sources_b_now), stats_a, stats_b, state_a_now, update.state,
               gr.skip(), sources_a_now, sources_b_now)


def build_compare_tab(default_a: str = str(refs.DEFAULT_MODEL), default_b: str | None = None) -> None:
    default_b = default_b or str(ModelRef("bundled", "qwen2.5-coder-0.5b-instruct"))
    state_a, state_b = gr.State(MemoryState()), gr.State(MemoryState())
    sources_a, sources_b = gr.State({}), gr.State({})
    with gr.Row():
        picker_a = model_picker("Model A", default_a)
        picker_b = model_picker("Model B", default_b)
    with gr.Row():
        memory = memory_widgets()
        collection = knowledge_picker()
    settings = settings_widgets(memory, collection)
    with gr.Row():
        with gr.Column():
            chat_a = gr.Chatbot(label="Model A", height=380)
            stats_a = gr.Markdown()
        with gr.Column():
            chat_b = gr.Chatbot(label="Model B", height=380)
            stats_b = gr.Markdown()
    with gr.Row():
        box = gr.Textbox(placeholder="Both models answer this message", show_label=False, scale=6)
        send = gr.Button("Send to both", variant="primary", scale=1)
        stop = gr.Button("Stop", scale=1)
        clear = gr.Button("Clear", scale=1)
    last = {name: settings.pop(name) for name in LAST_SETTINGS}
    inputs = {"message": box, "model_a": picker_a, "model_b": picker_b, **settings,  # /compare's parameters
              "state_a": state_a, "state_b": state_b, "sources_a": sources_a, "sources_b": sources_b, **last}
    outputs = [chat_a, chat_b, stats_a, stats_b, state_a, state_b, box, sources_a, sources_b]
    sent = send.click(compare, inputs_kwargs=inputs, outputs=outputs, api_name="compare", **GENERATE)
    submitted = box.submit(compare, inputs_kwargs=inputs, outputs=outputs, api_visibility="private", **GENERATE)
    stop.click(None, None, None, cancels=[sent, submitted], api_visibility="private")
    reset = lambda: ([], [], "", "", MemoryState(), MemoryState(), "", {}, {})  # noqa: E731
    clear.click(reset, None, outputs, api_name="clear_compare")
    chat_a.clear(reset, None, outputs, api_visibility="private")
    chat_b.clear(reset, None, outputs, api_visibility="private")
