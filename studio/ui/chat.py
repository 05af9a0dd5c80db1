"""The Chat tab: one model answers under the memory, knowledge and generation settings beside it, streaming its
reply, the prompt it received and what the turn cost. The settings widgets and the turn helpers are
studio.ui.chat_settings' (shared with the Compare tab); the handler calls studio.chat through them.
"""

from __future__ import annotations

import dataclasses

import gradio as gr

from studio.chat import TurnUpdate
from studio.core import runtime
from studio.engines import base
from studio.memory import MemoryState
from studio.models import refs
from studio.ui.chat_export import export_conversation
from studio.ui.chat_sources import build_source_viewer
from studio.ui.chat_settings import (
    GENERATE,
    LAST_SETTINGS,
    chat_settings,
    check,
    describe_model,
    knowledge_picker,
    loading,
    memory_widgets,
    model_picker,
    prompt_shown,
    settings_widgets,
    shown_messages,
    turn_stats,
    turns,
)

PAGE_CSS = """
@media (max-width: 720px) {
  .chat-row { flex-direction: column-reverse; }
}
"""
"""The app's own CSS (passed to launch): at phone width the Chat tab's two columns stack with the conversation
first; stacked in page order the text box sat below every setting."""


def runtime_line(loaded: base.LoadedModel) -> str:
    threads = f" · {runtime.pick_threads()} CPU threads" if loaded.device == "cpu" else ""
    why = f" (not llama.cpp: {loaded.engine_note})" if loaded.engine_note else ""
    lora = f" · adapter {loaded.lora}" if getattr(loaded, "lora", "") else ""  # llama.cpp: merged or at run time
    return f"Running on **{loaded.device}** · engine **{loaded.engine}**{why} · **{loaded.precision}**{threads}{lora}"


def respond(message: str, model: str, state: MemoryState, sources: dict | None = None, **form):
    """Stream one exchange. `form`: the settings by name (see chat_settings); `sources`: the passages shown under
    earlier replies, by reply index.

    Yields (chatbot, textbox, prompt, summary, stats, state, sources)."""
    check(message)
    config, settings, precision, knowledge_config = chat_settings(form)
    # The box is emptied once, as the message is taken, and the question shown at once; later updates leave the
    # box alone, so a question typed while the reply streams is kept.
    asking = dataclasses.replace(state, messages=state.messages + [{"role": "user", "content": message}])
    asked = shown_messages(TurnUpdate("", "", state=asking), sources or {})
    yield asked, "", gr.skip(), gr.skip(), "Loading the model...", gr.skip(), gr.skip()
    for loaded in loading(model, precision, form.get("engine", "auto")):
        if isinstance(loaded, str):
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), f"Loading the model: {loaded}", gr.skip(), gr.skip()
    where = runtime_line(loaded)
    for update, shown_sources in turns(loaded, config, state, message, settings, knowledge_config, sources or {}):
        stats = turn_stats(update, knowledge_config.collection)
        yield (shown_messages(update, shown_sources), gr.skip(), prompt_shown(update), update.state.summary,
               f"{where}  \n{stats}", update.state, shown_sources)


def export_markdown(**form) -> str:
    return export_conversation("markdown", **form)


def export_json(**form) -> str:
    return export_conversation("json", **form)


def remember(state: MemoryState, sources: dict) -> dict:
    """What the browser keeps of the conversation (its local storage): it survives a page reload there."""
    return {"messages": state.messages, "summary": state.summary, "summarized": state.summarized,
            "sources": {str(i): passages for i, passages in (sources or {}).items()}}


def restore(saved: dict | None):
    """A reloaded page's conversation from what `remember` kept: (chatbot, state, sources)."""
    try:
        state = MemoryState(list(saved["messages"]), str(saved.get("summary", "")), int(saved.get("summarized", 0)))
        sources = {int(i): list(passages) for i, passages in (saved.get("sources") or {}).items()}
        if not all(isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"),
                                                                                                   str)
                   for m in state.messages):
            raise ValueError("not a conversation")
    except (KeyError, TypeError, ValueError, AttributeError):  # nothing kept yet, or not what remember wrote
        return [], MemoryState(), {}
    return shown_messages(TurnUpdate("", "", state=state), sources), state, sources


def clear_chat():
    return [], "", "", "", MemoryState(), {}


def build_chat_tab(default_model: str = str(refs.DEFAULT_MODEL)) -> tuple[gr.BrowserState, list]:
    """The tab's content. Returns the conversation the browser keeps and the widgets `restore` fills from it (the
    app restores them on page load)."""
    state, sources = gr.State(MemoryState()), gr.State({})
    kept = gr.BrowserState({}, storage_key="cqa-studio-chat")
    with gr.Row(elem_classes=["chat-row"]):  # PAGE_CSS: on a phone, the conversation above the settings
        with gr.Column(scale=1, min_width=280):
            picker = model_picker("Model", default_model)
            info = gr.Markdown(describe_model(default_model))
            memory = memory_widgets()
            collection = knowledge_picker()
            settings = settings_widgets(memory, collection)
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Conversation", height=440, buttons=["copy"])
            with gr.Row():
                box = gr.Textbox(placeholder="Type a message and press Enter", show_label=False, scale=6,
                                 max_lines=8)
                send = gr.Button("Send", variant="primary", scale=1, min_width=80)
                stop = gr.Button("Stop", scale=1, min_width=80)
                clear = gr.Button("Clear", scale=1, min_width=80)
            stats = gr.Markdown()
            with gr.Row():
                save_markdown = gr.DownloadButton("Download the conversation (Markdown)", size="sm")
                save_json = gr.DownloadButton("Download (JSON, with sources and settings)", size="sm")
            build_source_viewer(sources)
            with gr.Accordion("Prompt the model received on the last turn", open=False):
                prompt = gr.Textbox(show_label=False, lines=10, max_lines=30, buttons=["copy"], interactive=False)
                summary = gr.Textbox(label="Memory summary (summary memories only)", lines=2, interactive=False)
    picker.change(describe_model, picker, info, api_visibility="private")
    last = {name: settings.pop(name) for name in LAST_SETTINGS}
    inputs = {"message": box, "model": picker, **settings, "state": state, "sources": sources,  # /chat's parameters
              **last}
    outputs = [chatbot, box, prompt, summary, stats, state, sources]
    sent = send.click(respond, inputs_kwargs=inputs, outputs=outputs, api_name="chat", **GENERATE)
    submitted = box.submit(respond, inputs_kwargs=inputs, outputs=outputs, api_visibility="private", **GENERATE)
    stop.click(None, None, None, cancels=[sent, submitted], api_visibility="private")
    saved = {"model": picker, "state": state, "sources": sources, **settings, **last}
    for event in (sent, submitted):  # also after Stop: a stopped reply is kept as far as it got
        event.then(remember, [state, sources], kept, api_visibility="private")
        # a download button hands over the file it holds when clicked: each reply refreshes both files
        event.then(export_markdown, inputs_kwargs=saved, outputs=save_markdown, api_visibility="private")
        event.then(export_json, inputs_kwargs=saved, outputs=save_json, api_visibility="private")
    save_markdown.click(export_markdown, inputs_kwargs=saved, outputs=save_markdown, api_name="export_chat_markdown")
    save_json.click(export_json, inputs_kwargs=saved, outputs=save_json, api_name="export_chat_json")
    forget = (lambda: ({}, None, None), None, [kept, save_markdown, save_json])
    clear.click(clear_chat, None, [chatbot, box, prompt, summary, state, sources], api_name="clear").then(
        *forget, api_visibility="private")
    chatbot.clear(clear_chat, None, [chatbot, box, prompt, summary, state, sources], api_visibility="private").then(
        *forget, api_visibility="private")
    return kept, [chatbot, state, sources]
