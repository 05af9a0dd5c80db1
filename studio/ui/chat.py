"""The Chat, Compare and Models tabs. Handlers turn widget values into plain objects and call studio.chat.

Every tab passes its settings widgets to its handler by name (Gradio's inputs_kwargs), and the names are the fields
of the object they fill: GenerationSettings fields as they are, MemoryConfig fields behind "memory_",
KnowledgeConfig fields behind "knowledge_", plus "precision". Those names are also the parameters of the /chat and
/compare API endpoints (the knowledge ones last, so positional callers from before keep working). A new group of
settings adds its widgets under a new prefix and reads them in `chat_settings`.

With a knowledge collection each reply is followed by a collapsed "Sources" message (Chatbot metadata title): the
citations in its title, the passages inside. Memory never holds them; they are kept per session beside it, keyed by
the index of the reply they belong to.
"""

from __future__ import annotations

import dataclasses
import typing

import gradio as gr

from studio import access
from studio.chat import ChatError, TurnUpdate, chat_turn, check_message
from studio.core import runtime
from studio.engines import base, loader
from studio.engines.base import GenerationSettings
from studio.knowledge import collection
from studio.knowledge.grounding import FOLLOW_UP_LABELS, FOLLOW_UPS, KnowledgeConfig, KnowledgeSettingsError
from studio.memory import MEMORY_KINDS, MEMORY_LABELS, MemoryConfig, MemoryState
from studio.models import catalogue, gguf_files, refs, servers
from studio.models.refs import ModelError, ModelRef

GENERATE = dict(concurrency_id="generate", concurrency_limit=1)
"""One generation at a time per process: on a CPU two at once are each slower than both in turn."""
DEFAULTS = GenerationSettings()
MEMORY_DEFAULTS = MemoryConfig()
KNOWLEDGE_DEFAULTS = KnowledgeConfig()
NO_KNOWLEDGE = ("None", "")


def model_choices() -> list[tuple[str, str]]:
    return [(entry.label, str(entry.ref)) for entry in catalogue.catalogue(remote=True)]


def describe_model(ref_text: str) -> str:
    try:
        access.check_model_ref(ref_text)  # shared mode: not even whether a typed server path exists
        entry = catalogue.describe(ModelRef.parse(ref_text))
    except (ModelError, access.AccessError) as e:
        return f"⚠️ {e}"
    if not entry.available:
        return f"⚠️ **{entry.name} is unavailable**: {entry.reason}."
    kind = "seq2seq" if entry.seq2seq else "causal"
    return f"**{entry.name}** · {entry.family} · {entry.size} parameters · {kind} · prompt style `{entry.prompt_style}` · {entry.reason}"


def runtime_line(loaded: base.LoadedModel) -> str:
    threads = f" · {runtime.pick_threads()} CPU threads" if loaded.device == "cpu" else ""
    why = f" (not llama.cpp: {loaded.engine_note})" if loaded.engine_note else ""
    lora = f" · adapter {loaded.lora}" if getattr(loaded, "lora", "") else ""  # llama.cpp: merged or at run time
    return f"Running on **{loaded.device}** · engine **{loaded.engine}**{why} · **{loaded.precision}**{threads}{lora}"


def engine_line() -> str:
    """Whether the fast engine can be used in this app, and why not."""
    problem = gguf_files.llama_cpp_problem()
    if problem:
        return f"⚠️ **llama.cpp engine unavailable**: {problem}. Models run on transformers (PyTorch)."
    if reason := loader.hardware_prefers_pytorch():
        return (f"**llama.cpp engine available**; engine \"auto\" uses PyTorch on this machine: {reason}. Pick "
                "\"llama.cpp\" in the Chat settings to use it.")
    return ("**llama.cpp engine available**: with engine \"auto\" (Chat settings) the models it runs are answered "
            "by llama.cpp; the others, and any model with engine \"transformers\", by PyTorch.")


def memory_widgets() -> dict[str, gr.components.Component]:
    """The memory settings by name: "memory_" + the MemoryConfig field each one fills."""
    kind = gr.Dropdown([(MEMORY_LABELS[k], k) for k in MEMORY_KINDS], value=MEMORY_DEFAULTS.kind, label="Memory",
                       info="What earlier turns reach the model's prompt")
    k = gr.Slider(1, 20, value=MEMORY_DEFAULTS.k, step=1, label="k: exchanges kept", visible=False)
    budget = gr.Slider(16, 4096, value=MEMORY_DEFAULTS.max_tokens, step=16, label="Token budget for earlier turns",
                       visible=False)
    kind.change(lambda v: (gr.Slider(visible=v == "window"), gr.Slider(visible=v in ("token_budget", "summary_buffer"))),
                kind, [k, budget], api_visibility="private")
    return {"memory_kind": kind, "memory_k": k, "memory_max_tokens": budget}


def collection_choices() -> list[tuple[str, str]]:
    return [NO_KNOWLEDGE] + [(name, name) for name in collection.names()]


def knowledge_picker() -> gr.Dropdown:
    # custom values: a collection built after the page loaded is not among the choices the server checks against
    picker = gr.Dropdown(collection_choices(), value="", label="Knowledge", allow_custom_value=True,
                         info="Answer from a knowledge collection (build one in the Knowledge tab), citing sources")
    picker.focus(lambda: gr.Dropdown(choices=collection_choices()), None, picker, api_visibility="private")
    return picker


def knowledge_widgets(picker: gr.Dropdown) -> dict[str, gr.components.Component]:
    """The knowledge settings by name: "knowledge_" + the KnowledgeConfig field each one fills."""
    with gr.Accordion("Knowledge settings", open=False):
        widgets = {
            "knowledge_collection": picker,
            "knowledge_k": gr.Slider(1, 10, value=KNOWLEDGE_DEFAULTS.k, step=1, label="Passages per question (k)"),
            "knowledge_refuse_without_source": gr.Checkbox(
                KNOWLEDGE_DEFAULTS.refuse_without_source, label="Say \"no source\" when nothing matches",
                info="On: a question no passage supports gets \"I have no source for that\" without calling the "
                     "model. Off: the model answers it without sources."),
            "knowledge_follow_up": gr.Radio([(FOLLOW_UP_LABELS[f], f) for f in FOLLOW_UPS],
                                            value=KNOWLEDGE_DEFAULTS.follow_up, label="Follow-up questions",
                                            info="How \"and for Platinum?\" is made standalone before the search"),
            "knowledge_threshold": gr.Slider(0.0, 1.0, value=KNOWLEDGE_DEFAULTS.threshold, step=0.01,
                                             label="Support threshold (best cosine similarity)"),
        }
    return widgets


def generation_widgets() -> dict[str, gr.components.Component]:
    """The generation settings by GenerationSettings field name, and the precision the model loads in."""
    with gr.Accordion("Generation settings", open=False):
        widgets = {
            "system_prompt": gr.Textbox(DEFAULTS.system_prompt, label="System prompt", lines=2),
            "max_new_tokens": gr.Slider(8, 1024, value=DEFAULTS.max_new_tokens, step=8, label="Max new tokens"),
            "temperature": gr.Slider(0, 1.5, value=DEFAULTS.temperature, step=0.05, label="Temperature (0 = greedy)"),
            "top_p": gr.Slider(0.05, 1.0, value=DEFAULTS.top_p, step=0.05, label="Top-p"),
            "repetition_penalty": gr.Slider(1.0, 2.0, value=DEFAULTS.repetition_penalty, step=0.05,
                                            label="Repetition penalty"),
            "precision": gr.Dropdown(list(runtime.PRECISIONS), value="auto", label="Precision",
                                     info="auto: bf16 on GPUs and on CPUs where bf16 is fast, else fp32; int8: CPU "
                                          "only, about 2x faster decoding but visibly worse answers from the "
                                          "smallest models"),
            "engine": gr.Dropdown([(loader.ENGINE_LABELS[e], e) for e in loader.ENGINES], value="auto",
                                  label="Engine", info="llama.cpp runs GGUF weights several times faster on a CPU; "
                                  "precision applies to transformers only. The stats line says which engine ran"),
        }
    return widgets


def settings_widgets(memory: dict, collection: gr.Dropdown) -> dict[str, gr.components.Component]:
    """Every chat setting by name, "engine" last (API callers passing settings by position keep working)."""
    generation = generation_widgets()
    engine = generation.pop("engine")
    return {**memory, **generation, **knowledge_widgets(collection), "engine": engine}


def _filled(cls, values: dict):
    """A settings dataclass from values by its field names; sliders may send whole numbers as floats."""
    types = typing.get_type_hints(cls)
    return cls(**{name: int(value) if types[name] is int else value for name, value in values.items()})


def chat_settings(form: dict) -> tuple[MemoryConfig, GenerationSettings, str, KnowledgeConfig]:
    """The settings widgets' values by name (see the module docstring) -> memory, generation settings, precision,
    knowledge.

    A name that is neither a settings field nor "precision" or "engine" (read by `_load`'s callers) is refused, so
    a renamed widget cannot be ignored."""
    groups = {"memory_": {}, "knowledge_": {}, "": {}}
    for name, value in form.items():
        prefix = next(p for p in groups if name.startswith(p))
        groups[prefix][name.removeprefix(prefix)] = value
    memory, knowledge_form, generation = groups["memory_"], groups["knowledge_"], groups[""]
    generation.pop("precision", None)
    generation.pop("engine", None)
    unknown = sorted(set(generation) - {f.name for f in dataclasses.fields(GenerationSettings)})
    unknown += sorted("knowledge_" + name for name in
                      set(knowledge_form) - {f.name for f in dataclasses.fields(KnowledgeConfig)})
    if unknown:
        raise gr.Error(f"Unknown chat setting(s): {', '.join(unknown)}", print_exception=False)
    if "system_prompt" in generation:
        generation["system_prompt"] = generation["system_prompt"] or ""  # a cleared box: no system prompt
    try:
        config = _filled(MemoryConfig, memory)
        settings = _filled(GenerationSettings, generation)
        knowledge_config = KnowledgeConfig(**knowledge_form)
    except (TypeError, ValueError, KnowledgeSettingsError) as e:
        raise gr.Error(str(e), print_exception=False) from e
    return config, settings, form.get("precision", "auto"), knowledge_config


def model_picker(label: str, value: str) -> gr.Dropdown:
    picker = gr.Dropdown(model_choices(), value=value, label=label, allow_custom_value=True,
                         info="Pick a model, or type a local model folder path")
    picker.focus(lambda: gr.Dropdown(choices=model_choices()), None, picker, api_visibility="private")
    return picker


def _load(ref_text: str, precision: str, engine: str = "auto") -> base.LoadedModel:
    try:
        access.check_model_ref(ref_text)
        return loader.load_model(ModelRef.parse(ref_text), precision, progress=lambda msg: gr.Info(msg),
                                  engine=engine or "auto")
    except (ModelError, access.AccessError) as e:
        raise gr.Error(str(e), print_exception=False) from e


def _turns(loaded, config, state, message, settings, knowledge_config, sources):
    """chat_turn with the errors a user can act on shown as a message, not a stack trace. Yields each update and
    the sources by reply index, this reply's passages included."""
    try:
        for update in chat_turn(loaded, config, state, message, settings, knowledge_config):
            reply_index = len(update.state.messages) - 1
            shown_sources = {**sources, reply_index: [p.to_dict() for p in update.sources]} if update.sources \
                else sources
            yield update, shown_sources
    except (ChatError, ModelError) as e:
        raise gr.Error(str(e), print_exception=False) from e


def sources_message(passages: list[dict]) -> dict:
    """A collapsed chat message under a reply: its citations as the title, the passages inside."""
    body = "\n\n".join(f"**[{n}] {p['citation']}** · similarity {p['dense_score']:.2f}\n\n"
                        + "\n".join("> " + line for line in p["text"].splitlines() if line.strip())
                        for n, p in enumerate(passages, 1))
    title = "Sources: " + " · ".join(f"[{n}] {p['citation']}" for n, p in enumerate(passages, 1))
    return {"role": "assistant", "content": body, "metadata": {"title": title, "status": "done"}}


def _shown(update: TurnUpdate, sources: dict[int, list[dict]]) -> list[dict]:
    shown = []
    for i, m in enumerate(update.state.messages):
        shown.append({"role": m["role"], "content": m["content"]})
        if sources.get(i):
            shown.append(sources_message(sources[i]))
    return shown


def _turn_stats(update: TurnUpdate, collection: str | None) -> str:
    if update.status:
        return update.status
    found = update.grounding.describe(collection) + "  \n" if update.grounding else ""
    if update.stats:
        return found + update.stats.describe()
    return found + ("Answered without the model: no source matched." if update.grounding else "Generating...")


def _prompt_shown(update: TurnUpdate) -> str:
    """The prompt panel: the exact prompt, or why there was none."""
    if update.prompt or not update.grounding:
        return update.prompt
    return (f"The model was not called: no passage scored above the support threshold (best similarity "
            f"{update.grounding.best_score:.2f}) for the search query:\n{update.grounding.query}")


def _check(message: str) -> None:
    try:
        check_message(message)
    except ChatError as e:
        raise gr.Error(str(e), print_exception=False) from e


# ------------------------------------------------------------------------------------------------------ Chat


def respond(message: str, model: str, state: MemoryState, sources: dict | None = None, **form):
    """Stream one exchange. `form`: the settings by name (see chat_settings); `sources`: the passages shown under
    earlier replies, by reply index.

    Yields (chatbot, textbox, prompt, summary, stats, state, sources)."""
    _check(message)
    config, settings, precision, knowledge_config = chat_settings(form)
    yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), "Loading the model...", gr.skip(), gr.skip()
    loaded = _load(model, precision, form.get("engine", "auto"))
    where = runtime_line(loaded)
    for update, shown_sources in _turns(loaded, config, state, message, settings, knowledge_config, sources or {}):
        stats = _turn_stats(update, knowledge_config.collection)
        yield (_shown(update, shown_sources), "", _prompt_shown(update), update.state.summary, f"{where}  \n{stats}",
               update.state, shown_sources)


def clear_chat():
    return [], "", "", "", MemoryState(), {}


def build_chat_tab(default_model: str = str(refs.DEFAULT_MODEL)) -> None:
    state, sources = gr.State(MemoryState()), gr.State({})
    with gr.Row():
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
            with gr.Accordion("Prompt the model received on the last turn", open=False):
                prompt = gr.Textbox(show_label=False, lines=10, max_lines=30, buttons=["copy"], interactive=False)
                summary = gr.Textbox(label="Memory summary (summary memories only)", lines=2, interactive=False)
    picker.change(describe_model, picker, info, api_visibility="private")
    engine = settings.pop("engine")
    inputs = {"message": box, "model": picker, **settings, "state": state, "sources": sources,  # /chat's parameters
              "engine": engine}
    outputs = [chatbot, box, prompt, summary, stats, state, sources]
    sent = send.click(respond, inputs_kwargs=inputs, outputs=outputs, api_name="chat", **GENERATE)
    submitted = box.submit(respond, inputs_kwargs=inputs, outputs=outputs, api_visibility="private", **GENERATE)
    stop.click(None, None, None, cancels=[sent, submitted], api_visibility="private")
    clear.click(clear_chat, None, [chatbot, box, prompt, summary, state, sources], api_name="clear")
    chatbot.clear(clear_chat, None, [chatbot, box, prompt, summary, state, sources], api_visibility="private")


# --------------------------------------------------------------------------------------------------- Compare


def compare(message: str, model_a: str, model_b: str, state_a: MemoryState, state_b: MemoryState,
            sources_a: dict | None = None, sources_b: dict | None = None, **form):
    """Both models answer the same message, each with its own memory; A streams, then B. `form`: the settings
    by name (see chat_settings), shared by both.

    Yields (chatbot A, chatbot B, stats A, stats B, state A, state B, textbox, sources A, sources B). Taking turns
    keeps each model's timing honest on a CPU, where two generations at once slow each other down.
    """
    _check(message)
    config, settings, precision, knowledge_config = chat_settings(form)
    yield gr.skip(), gr.skip(), "Loading...", "Loading...", gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    engine = form.get("engine", "auto")
    loaded_a, loaded_b = _load(model_a, precision, engine), _load(model_b, precision, engine)
    sources_a, sources_b = sources_a or {}, sources_b or {}
    shown_a, stats_a, state_a_now, sources_a_now = [dict(m) for m in state_a.messages], "", state_a, sources_a
    for update, sources_a_now in _turns(loaded_a, config, state_a, message, settings, knowledge_config, sources_a):
        shown_a = _shown(update, sources_a_now)
        stats_a = _turn_stats(update, knowledge_config.collection)
        state_a_now = update.state
        yield shown_a, gr.skip(), stats_a, "Waiting for model A...", state_a_now, gr.skip(), "", sources_a_now, \
            gr.skip()
    for update, sources_b_now in _turns(loaded_b, config, state_b, message, settings, knowledge_config, sources_b):
        stats_b = _turn_stats(update, knowledge_config.collection)
        yield (shown_a, _shown(update, sources_b_now), stats_a, stats_b, state_a_now, update.state, "", sources_a_now,
               sources_b_now)


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
    engine = settings.pop("engine")
    inputs = {"message": box, "model_a": picker_a, "model_b": picker_b, **settings,  # /compare's parameters
              "state_a": state_a, "state_b": state_b, "sources_a": sources_a, "sources_b": sources_b, "engine": engine}
    outputs = [chat_a, chat_b, stats_a, stats_b, state_a, state_b, box, sources_a, sources_b]
    sent = send.click(compare, inputs_kwargs=inputs, outputs=outputs, api_name="compare", **GENERATE)
    submitted = box.submit(compare, inputs_kwargs=inputs, outputs=outputs, api_visibility="private", **GENERATE)
    stop.click(None, None, None, cancels=[sent, submitted], api_visibility="private")
    reset = lambda: ([], [], "", "", MemoryState(), MemoryState(), "", {}, {})  # noqa: E731
    clear.click(reset, None, outputs, api_name="clear_compare")
    chat_a.clear(reset, None, outputs, api_visibility="private")
    chat_b.clear(reset, None, outputs, api_visibility="private")


# ---------------------------------------------------------------------------------------------------- Models


def _auto_engine(entry: refs.ModelEntry) -> str:
    """The engine "auto" picks for a model, with why it is not llama.cpp when llama.cpp is installed."""
    engine, why = loader.resolve_engine(entry, "auto")
    return f"{engine} ({why})" if why and gguf_files.llama_cpp_problem() is None else engine


def catalogue_rows() -> list[list]:
    rows = []
    for e in catalogue.catalogue(remote=True):
        rows.append([e.name, str(e.ref), e.family, e.size, "seq2seq" if e.seq2seq else "causal", e.prompt_style,
                     "yes" if e.available else "no", _auto_engine(e), e.reason])
    return rows


def build_models_tab() -> None:
    gr.Markdown(
        "Bundled models ship inside pip packages and work offline; they are checked (sha256) and converted once "
        "into a cached folder. The report's model families are listed by Hugging Face id: they work when their "
        "weights are in the local Hugging Face cache or in `$CQA_MODELS_DIR`; nothing is downloaded at run time. "
        "Any local model folder path typed into a model picker works too. Fine-tuned adapters from `runs/` appear "
        "here and in the pickers as soon as they are saved."
    )
    gr.Markdown(engine_line())
    headers = ["Model", "Reference", "Family", "Parameters", "Type", "Prompt style", "Available", "Engine (auto)",
               "Source / reason"]
    table = gr.Dataframe(catalogue_rows(), headers=headers, interactive=False, wrap=True,
                         column_widths=["14%", "17%", "6%", "6%", "6%", "7%", "6%", "12%", "26%"])
    gr.Button("Refresh").click(catalogue_rows, None, table, api_name="models")
    build_servers_form(table)


def _change_servers(change, *args):
    """A change to the OpenAI-compatible servers (refused in shared mode) -> (message, servers, key box, models):
    the key box is emptied, so a key never stays in the page."""
    try:
        access.check_settings_change("The OpenAI-compatible servers")
        return change(*args), servers.servers_table(), "", catalogue_rows()
    except (ModelError, access.AccessError) as e:
        return f"⚠️ {e}", gr.skip(), gr.skip(), gr.skip()


def save_server(name: str, base_url: str, api_key: str, model_names: str):
    return _change_servers(servers.save_server, name, base_url, api_key, model_names)


def remove_server(name: str):
    return _change_servers(servers.remove_server, (name or "").strip())


def build_servers_form(models_table: gr.Dataframe) -> None:
    gr.Markdown("### OpenAI-compatible servers\nvLLM, llama.cpp's server, Ollama or TGI answer as chat models "
                "`openai:<model>@<name>`; memory and knowledge stay in this app. Also set by `CQA_OPENAI_BASE_URL`, "
                "`CQA_OPENAI_API_KEY`, `CQA_OPENAI_MODELS`. Keys are kept owner-only in the settings folder and never "
                "shown again.")
    servers_table = gr.Dataframe(servers.servers_table(), headers=["Name", "Base URL", "API key", "Source", "Status"],
                           interactive=False, wrap=True)
    with gr.Row():
        name = gr.Textbox(label="Name", placeholder="local")
        url = gr.Textbox(label="Base URL", placeholder="http://127.0.0.1:8000/v1")
        key = gr.Textbox(label="API key (empty keeps the saved one)", type="password")
        names = gr.Textbox(label="Models (optional, comma-separated)")
    with gr.Row():
        save, remove = gr.Button("Save server"), gr.Button("Remove server")
    message = gr.Markdown()
    save.click(save_server, [name, url, key, names], [message, servers_table, key, models_table], api_visibility="private")
    remove.click(remove_server, name, [message, servers_table, key, models_table], api_visibility="private")
