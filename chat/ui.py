"""The Chat, Compare and Models tabs. Handlers turn widget values into plain objects and call chat.engine."""

from __future__ import annotations

import gradio as gr

from chat import models, runtime
from chat.engine import ChatError, GenerationSettings, TurnUpdate, chat_turn, check_message
from chat.memory import MEMORY_KINDS, MEMORY_LABELS, MemoryConfig, MemoryState
from chat.models import ModelError, ModelRef

GENERATE = dict(concurrency_id="generate", concurrency_limit=1)
"""One generation at a time per process: on a CPU two at once are each slower than both in turn."""
DEFAULTS = GenerationSettings()
MEMORY_DEFAULTS = MemoryConfig()


def model_choices() -> list[tuple[str, str]]:
    return [(entry.label, str(entry.ref)) for entry in models.catalogue()]


def describe_model(ref_text: str) -> str:
    try:
        entry = models.describe(ModelRef.parse(ref_text))
    except ModelError as e:
        return f"⚠️ {e}"
    if not entry.available:
        return f"⚠️ **{entry.name} is unavailable**: {entry.reason}."
    kind = "seq2seq" if entry.seq2seq else "causal"
    return f"**{entry.name}** · {entry.family} · {entry.size} parameters · {kind} · prompt style `{entry.prompt_style}` · {entry.reason}"


def runtime_line(loaded: models.LoadedModel) -> str:
    threads = f" · {runtime.pick_threads()} CPU threads" if loaded.device == "cpu" else ""
    return f"Running on **{loaded.device}** · **{loaded.precision}**{threads}"


def memory_widgets() -> tuple[gr.Dropdown, gr.Slider, gr.Slider]:
    kind = gr.Dropdown([(MEMORY_LABELS[k], k) for k in MEMORY_KINDS], value=MEMORY_DEFAULTS.kind, label="Memory",
                       info="What earlier turns reach the model's prompt")
    k = gr.Slider(1, 20, value=MEMORY_DEFAULTS.k, step=1, label="k: exchanges kept", visible=False)
    budget = gr.Slider(16, 4096, value=MEMORY_DEFAULTS.max_tokens, step=16, label="Token budget for earlier turns",
                       visible=False)
    kind.change(lambda v: (gr.Slider(visible=v == "window"), gr.Slider(visible=v in ("token_budget", "summary_buffer"))),
                kind, [k, budget], api_visibility="private")
    return kind, k, budget


def generation_widgets() -> list[gr.components.Component]:
    with gr.Accordion("Generation settings", open=False):
        system = gr.Textbox(DEFAULTS.system_prompt, label="System prompt", lines=2)
        max_new = gr.Slider(8, 1024, value=DEFAULTS.max_new_tokens, step=8, label="Max new tokens")
        temperature = gr.Slider(0, 1.5, value=DEFAULTS.temperature, step=0.05, label="Temperature (0 = greedy)")
        top_p = gr.Slider(0.05, 1.0, value=DEFAULTS.top_p, step=0.05, label="Top-p")
        penalty = gr.Slider(1.0, 2.0, value=DEFAULTS.repetition_penalty, step=0.05, label="Repetition penalty")
        precision = gr.Dropdown(list(runtime.PRECISIONS), value="auto", label="Precision",
                                info="auto: bf16 on GPUs and on CPUs where bf16 is fast, else fp32; int8: CPU only, "
                                     "about 2x faster decoding but visibly worse answers from the smallest models")
    return [system, max_new, temperature, top_p, penalty, precision]


def settings_from(system, max_new, temperature, top_p, penalty) -> GenerationSettings:
    return GenerationSettings(max_new_tokens=int(max_new), temperature=float(temperature), top_p=float(top_p),
                              repetition_penalty=float(penalty), system_prompt=system or "")


def model_picker(label: str, value: str) -> gr.Dropdown:
    picker = gr.Dropdown(model_choices(), value=value, label=label, allow_custom_value=True,
                         info="Pick a model, or type a local model folder path")
    picker.focus(lambda: gr.Dropdown(choices=model_choices()), None, picker, api_visibility="private")
    return picker


def _load(ref_text: str, precision: str) -> models.LoadedModel:
    try:
        return models.load_model(ModelRef.parse(ref_text), precision, progress=lambda msg: gr.Info(msg))
    except ModelError as e:
        raise gr.Error(str(e), print_exception=False) from e


def _memory(kind, k, budget) -> MemoryConfig:
    try:
        return MemoryConfig(kind=kind, k=int(k), max_tokens=int(budget))
    except ValueError as e:
        raise gr.Error(str(e), print_exception=False) from e


def _turns(loaded, config, state, message, settings):
    """chat_turn with the errors a user can act on shown as a message, not a stack trace."""
    try:
        yield from chat_turn(loaded, config, state, message, settings)
    except (ChatError, ModelError) as e:
        raise gr.Error(str(e), print_exception=False) from e


def _shown(update: TurnUpdate) -> list[dict]:
    return [{"role": m["role"], "content": m["content"]} for m in update.state.messages]


def _check(message: str) -> None:
    try:
        check_message(message)
    except ChatError as e:
        raise gr.Error(str(e), print_exception=False) from e


# ------------------------------------------------------------------------------------------------------ Chat


def respond(message, ref_text, kind, k, budget, system, max_new, temperature, top_p, penalty, precision, state):
    """Stream one exchange. Yields (chatbot, textbox, prompt, summary, stats, state)."""
    _check(message)
    config = _memory(kind, k, budget)
    settings = settings_from(system, max_new, temperature, top_p, penalty)
    yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), "Loading the model...", gr.skip()
    loaded = _load(ref_text, precision)
    where = runtime_line(loaded)
    for update in _turns(loaded, config, state, message, settings):
        stats = update.status or (update.stats.describe() if update.stats else "Generating...")
        yield _shown(update), "", update.prompt, update.state.summary, f"{where}  \n{stats}", update.state


def clear_chat():
    return [], "", "", "", MemoryState()


def build_chat_tab(default_model: str = str(models.DEFAULT_MODEL)) -> None:
    state = gr.State(MemoryState())
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            picker = model_picker("Model", default_model)
            info = gr.Markdown(describe_model(default_model))
            kind, k, budget = memory_widgets()
            settings = generation_widgets()
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Conversation", height=440, buttons=["copy"])
            with gr.Row():
                box = gr.Textbox(placeholder="Type a message and press Enter", show_label=False, scale=6,
                                 max_lines=8)
                send = gr.Button("Send", variant="primary", scale=1, min_width=80)
                stop = gr.Button("Stop", scale=1, min_width=80)
                clear = gr.Button("Clear", scale=1, min_width=80)
            stats = gr.Markdown()
            with gr.Accordion("Prompt the model received on the last turn", open=False):
                prompt = gr.Textbox(show_label=False, lines=10, max_lines=30, buttons=["copy"], interactive=False)
                summary = gr.Textbox(label="Memory summary (summary memories only)", lines=2, interactive=False)
    picker.change(describe_model, picker, info, api_visibility="private")
    inputs = [box, picker, kind, k, budget, *settings, state]
    outputs = [chatbot, box, prompt, summary, stats, state]
    sent = send.click(respond, inputs, outputs, api_name="chat", **GENERATE)
    submitted = box.submit(respond, inputs, outputs, api_visibility="private", **GENERATE)
    stop.click(None, None, None, cancels=[sent, submitted], api_visibility="private")
    clear.click(clear_chat, None, [chatbot, box, prompt, summary, state], api_name="clear")
    chatbot.clear(clear_chat, None, [chatbot, box, prompt, summary, state], api_visibility="private")


# --------------------------------------------------------------------------------------------------- Compare


def compare(message, ref_a, ref_b, kind, k, budget, system, max_new, temperature, top_p, penalty, precision,
            state_a, state_b):
    """Both models answer the same message, each with its own memory; A streams, then B.

    Yields (chatbot A, chatbot B, stats A, stats B, state A, state B, textbox). Taking turns keeps each model's
    timing honest on a CPU, where two generations at once slow each other down.
    """
    _check(message)
    config = _memory(kind, k, budget)
    settings = settings_from(system, max_new, temperature, top_p, penalty)
    yield gr.skip(), gr.skip(), "Loading...", "Loading...", gr.skip(), gr.skip(), gr.skip()
    loaded_a, loaded_b = _load(ref_a, precision), _load(ref_b, precision)
    shown_a = [dict(m) for m in state_a.messages]
    stats_a = ""
    for update in _turns(loaded_a, config, state_a, message, settings):
        shown_a, state_a = _shown(update), update.state
        stats_a = update.status or (update.stats.describe() if update.stats else "Generating...")
        yield shown_a, gr.skip(), stats_a, "Waiting for model A...", state_a, gr.skip(), ""
    for update in _turns(loaded_b, config, state_b, message, settings):
        state_b = update.state
        stats_b = update.status or (update.stats.describe() if update.stats else "Generating...")
        yield shown_a, _shown(update), stats_a, stats_b, state_a, state_b, ""


def build_compare_tab(default_a: str = str(models.DEFAULT_MODEL), default_b: str | None = None) -> None:
    default_b = default_b or str(ModelRef("bundled", "qwen2.5-coder-0.5b-instruct"))
    state_a, state_b = gr.State(MemoryState()), gr.State(MemoryState())
    with gr.Row():
        picker_a = model_picker("Model A", default_a)
        picker_b = model_picker("Model B", default_b)
    with gr.Row():
        kind, k, budget = memory_widgets()
    settings = generation_widgets()
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
    inputs = [box, picker_a, picker_b, kind, k, budget, *settings, state_a, state_b]
    outputs = [chat_a, chat_b, stats_a, stats_b, state_a, state_b, box]
    sent = send.click(compare, inputs, outputs, api_name="compare", **GENERATE)
    submitted = box.submit(compare, inputs, outputs, api_visibility="private", **GENERATE)
    stop.click(None, None, None, cancels=[sent, submitted], api_visibility="private")
    reset = lambda: ([], [], "", "", MemoryState(), MemoryState(), "")  # noqa: E731
    clear.click(reset, None, outputs, api_name="clear_compare")
    chat_a.clear(reset, None, outputs, api_visibility="private")
    chat_b.clear(reset, None, outputs, api_visibility="private")


# ---------------------------------------------------------------------------------------------------- Models


def catalogue_rows() -> list[list]:
    rows = []
    for e in models.catalogue():
        rows.append([e.name, str(e.ref), e.family, e.size, "seq2seq" if e.seq2seq else "causal", e.prompt_style,
                     "yes" if e.available else "no", e.reason])
    return rows


def build_models_tab() -> None:
    gr.Markdown(
        "Bundled models ship inside pip packages and work offline; they are checked (sha256) and converted once "
        "into a cached folder. The report's model families are listed by Hugging Face id: they work when their "
        "weights are in the local Hugging Face cache or in `$CQA_MODELS_DIR`; nothing is downloaded at run time. "
        "Any local model folder path typed into a model picker works too. Fine-tuned adapters from `runs/` appear "
        "here and in the pickers as soon as they are saved."
    )
    headers = ["Model", "Reference", "Family", "Parameters", "Type", "Prompt style", "Available", "Source / reason"]
    table = gr.Dataframe(catalogue_rows(), headers=headers, interactive=False, wrap=True,
                         column_widths=["15%", "19%", "7%", "7%", "6%", "8%", "6%", "32%"])
    gr.Button("Refresh").click(catalogue_rows, None, table, api_name="models")
