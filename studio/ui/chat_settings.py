"""The settings widgets and turn helpers the Chat and Compare tabs share: the model picker, the memory, knowledge
and generation widgets, their values turned into plain objects, loading a model and streaming a turn with the
errors a user can act on shown as messages.

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

import contextvars
import dataclasses
import queue
import re
import threading
import typing
from collections.abc import Iterator

import gradio as gr

from studio import access
from studio.chat import ChatError, TurnUpdate, chat_turn, check_message
from studio.core import runtime
from studio.engines import base, loader
from studio.engines.base import GenerationSettings
from studio.knowledge import collection
from studio.knowledge.grounding import FOLLOW_UP_LABELS, FOLLOW_UPS, KnowledgeConfig, KnowledgeSettingsError
from studio.knowledge.support import ANSWER_STYLE_LABELS, ANSWER_STYLES
from studio.memory import MEMORY_KINDS, MEMORY_LABELS, MemoryConfig
from studio.models import catalogue
from studio.models.refs import ModelError, ModelRef
from studio.ui import knowledge_form

GENERATE = dict(concurrency_id="generate", concurrency_limit=1)
"""One generation at a time per process: on a CPU two at once are each slower than both in turn."""
DEFAULTS = GenerationSettings()
MEMORY_DEFAULTS = MemoryConfig()
KNOWLEDGE_DEFAULTS = KnowledgeConfig()
NO_KNOWLEDGE = ("None", "")


def model_choices(show_unavailable: bool = False) -> list[tuple[str, str]]:
    """Fine-tuned adapters first (newest first), then the other models ready to use; the unavailable ones (not
    installed, no local weights) only when asked for, last."""
    entries = catalogue.catalogue(remote=True)
    ordered = sorted(entries, key=lambda e: (not e.available, e.ref.kind != "adapter"))  # stable: keeps each order
    return [(entry.label, str(entry.ref)) for entry in ordered if entry.available or show_unavailable]


def describe_model(ref_text: str) -> str:
    try:
        access.check_model_ref(ref_text)  # shared mode: not even whether a typed server path exists
        entry = catalogue.describe(ModelRef.parse(ref_text))
    except (ModelError, access.AccessError) as e:
        return f"⚠️ {e}"
    if not entry.available:
        return f"⚠️ **{entry.name} is unavailable**: {entry.reason}."
    kind = "seq2seq" if entry.seq2seq else "causal"
    return (f"**{entry.name}** · {entry.family} · {entry.size} parameters · {kind} · prompt style "
            f"`{entry.prompt_style}` · {entry.reason}")


def memory_widgets() -> dict[str, gr.components.Component]:
    """The memory settings by name: "memory_" + the MemoryConfig field each one fills."""
    kind = gr.Dropdown([(MEMORY_LABELS[k], k) for k in MEMORY_KINDS], value=MEMORY_DEFAULTS.kind, label="Memory",
                       info="What earlier turns reach the model's prompt")
    k = gr.Slider(1, 20, value=MEMORY_DEFAULTS.k, step=1, label="k: exchanges kept", visible=False)
    budget = gr.Slider(16, 4096, value=MEMORY_DEFAULTS.max_tokens, step=16, label="Token budget for earlier turns",
                       visible=False)
    kind.change(lambda v: (gr.Slider(visible=v == "window"),
                           gr.Slider(visible=v in ("token_budget", "summary_buffer"))),
                kind, [k, budget], api_visibility="private")
    return {"memory_kind": kind, "memory_k": k, "memory_max_tokens": budget}


def collection_choices() -> list[tuple[str, str]]:
    return [NO_KNOWLEDGE] + [(name, name) for name in collection.names()]


def knowledge_picker() -> gr.Dropdown:
    # custom values: a collection built after the page loaded is not among the choices the server checks against
    picker = gr.Dropdown(collection_choices(), value="", label="Knowledge", allow_custom_value=True,
                         info="Answer from a knowledge collection (build one in the Knowledge tab), citing sources. "
                              "Qwen2.5-Coder-1.5B, when installed, reads the passages best (docs/grounding.md)")
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
                                             label="How close a passage must be to answer from",
                                             info="The support threshold: the best passage's cosine similarity "
                                                  "to the question must reach it (on-topic sample questions "
                                                  "scored 0.34 or more, off-topic ones 0.20 or less)"),
            "knowledge_answer_style": gr.Radio([(ANSWER_STYLE_LABELS[s], s) for s in ANSWER_STYLES],
                                               value=KNOWLEDGE_DEFAULTS.answer_style, label="Answer style",
                                               info="Every grounded answer is checked against its sources; "
                                                    "this decides what happens when it is not found in them"),
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
    """Every chat setting by name, "engine" and "knowledge_answer_style" last: settings added later go at the end,
    so API callers passing settings by position keep working (see LAST_SETTINGS)."""
    generation = generation_widgets()
    engine = generation.pop("engine")
    knowledge = knowledge_widgets(collection)
    return {**memory, **generation, **knowledge, "engine": engine,
            "knowledge_answer_style": knowledge.pop("knowledge_answer_style")}


LAST_SETTINGS = ("engine", "knowledge_answer_style")
"""Settings that follow the state parameters of /chat and /compare, in this order (added after them)."""


def _filled(cls, values: dict):
    """A settings dataclass from values by its field names; sliders may send whole numbers as floats."""
    types = typing.get_type_hints(cls)
    return cls(**{name: int(value) if types[name] is int else value for name, value in values.items()})


def chat_settings(form: dict) -> tuple[MemoryConfig, GenerationSettings, str, KnowledgeConfig]:
    """The settings widgets' values by name (see the module docstring) -> memory, generation settings, precision,
    knowledge.

    A name that is neither a settings field nor "precision" or "engine" (read by `load`'s callers) is refused, so
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
        check_collection(knowledge_config.collection)
    except (TypeError, ValueError, KnowledgeSettingsError, collection.KnowledgeError) as e:
        raise gr.Error(str(e), print_exception=False) from e
    return config, settings, form.get("precision", "auto"), knowledge_config


def check_collection(name: str | None) -> None:
    """A collection named in the form exists: refused before the model loads (seconds) rather than after."""
    if name and collection.check_name(name) not in collection.names():
        raise collection.KnowledgeError(f"No collection named {name!r}: pick one of the Knowledge list, or build it "
                                        "in the Knowledge tab")


def model_picker(label: str, value: str) -> gr.Dropdown:
    picker = gr.Dropdown(model_choices(), value=value, label=label, allow_custom_value=True,
                         info="Pick a model, or type a local model folder path")
    show_all = gr.Checkbox(False, label="Show unavailable models", container=False)
    picker.focus(lambda show: gr.Dropdown(choices=model_choices(show)), show_all, picker, api_visibility="private")
    show_all.change(lambda show: gr.Dropdown(choices=model_choices(show)), show_all, picker,
                    api_visibility="private")
    return picker


def load(ref_text: str, precision: str, engine: str = "auto", progress=print) -> base.LoadedModel:
    try:
        access.check_model_ref(ref_text)
        return loader.load_model(ModelRef.parse(ref_text), precision, progress=progress, engine=engine or "auto")
    except (ModelError, access.AccessError) as e:
        raise gr.Error(str(e), print_exception=False) from e


def loading(ref_text: str, precision: str, engine: str = "auto") -> Iterator[str | base.LoadedModel]:
    """Load a model on a worker thread, yielding each progress message as it comes ("Merging the adapter into
    ... about a minute"), then the loaded model; a failure is raised here. The handler shows the messages in
    the page: gr.Info from the loader's own threads never reached it (the first chat with an adapter showed
    "Loading the model..." for 55 s while the merge reported only to the terminal)."""
    messages: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["model"] = load(ref_text, precision, engine, progress=messages.put)
        except BaseException as e:  # noqa: BLE001 - re-raised in the handler's thread below
            outcome["error"] = e
        finally:
            messages.put(None)

    # in this handler's context: the visitor's workspace (studio/core/paths.py)
    threading.Thread(target=contextvars.copy_context().run, args=(work,), name="model-load", daemon=True).start()
    while (message := messages.get()) is not None:
        yield str(message)
    if "error" in outcome:
        raise outcome["error"]
    yield outcome["model"]


def turns(loaded, config, state, message, settings, knowledge_config, sources):
    """chat_turn with the errors a user can act on shown as a message, not a stack trace. Yields each update and
    the sources by reply index, this reply's passages included."""
    try:
        for update in chat_turn(loaded, config, state, message, settings, knowledge_config):
            reply_index = len(update.state.messages) - 1
            shown_sources = ({**sources, reply_index: sources_of(update, knowledge_config.collection)} if update.sources
                             else sources)
            yield update, shown_sources
    except (ChatError, ModelError) as e:
        raise gr.Error(str(e), print_exception=False) from e


def sources_message(passages: list[dict], verdict: str = "") -> dict:
    """A collapsed chat message under a reply: the answer's verdict and its citations as the title; inside, each
    passage with the sentences the answer used from it first."""
    def shown(n: int, p: dict) -> str:
        used = "".join(f"\n\nUsed: *“{sentence}”*" for sentence in p.get("used", []))
        text = p["text"]
        for sentence in p.get("used", []):  # highlighted where it stands in the passage (within one line)
            if sentence and "\n" not in sentence and "**" not in sentence:
                text = text.replace(sentence, f"**{sentence}**", 1)
        quoted = "\n".join("> " + line for line in text.splitlines() if line.strip())
        return f"**[{n}] {p['citation']}** · {knowledge_form.scores_text(p)}{used}\n\n{quoted}"

    body = "\n\n".join(shown(n, p) for n, p in enumerate(passages, 1))
    title = (f"{verdict} · " if verdict else "") + "Sources: " + " · ".join(
        f"[{n}] {p['citation']}" for n, p in enumerate(passages, 1))
    return {"role": "assistant", "content": body, "metadata": {"title": title, "status": "done"}}


def sources_of(update: TurnUpdate, collection: str | None = None) -> list[dict]:
    """The reply's passages as kept per session: each with the sentences the answer used, the verdict, and the
    collection it came from (to open its file: studio/ui/chat_sources.py)."""
    used = update.answer.check.used if update.answer else {}
    verdict = update.answer.describe() if update.answer else ""
    return [p.to_dict() | {"used": used.get(i, []), "verdict": verdict, "collection": collection or ""}
            for i, p in enumerate(update.sources)]


CITED = re.compile(r"\[\d+\]")


def with_markers(reply: str, passages: list[dict]) -> str:
    """A grounded reply as shown: when the model cited no source itself, the numbers of the sources whose
    sentences it used follow it ("... 30 days. [1]"), matching the numbered sources under it."""
    used = [n for n, p in enumerate(passages, 1) if p.get("used")]
    if not used or CITED.search(reply):
        return reply
    return reply.rstrip() + " " + "".join(f"[{n}]" for n in used)


def shown_messages(update: TurnUpdate, sources: dict[int, list[dict]]) -> list[dict]:
    shown = []
    for i, m in enumerate(update.state.messages):
        content = with_markers(m["content"], sources[i]) if sources.get(i) else m["content"]
        shown.append({"role": m["role"], "content": content})
        if sources.get(i):
            shown.append(sources_message(sources[i], sources[i][0].get("verdict", "")))
    return shown


def turn_stats(update: TurnUpdate, collection: str | None) -> str:
    if update.status:
        return update.status
    found = update.grounding.describe(collection) + "  \n" if update.grounding else ""
    checked = update.answer.describe() + "  \n" if update.answer else ""
    if update.stats:
        return found + checked + update.stats.describe()
    if checked:
        return found + checked.rstrip()
    if update.grounding and not update.grounding.supported:
        return found + ("No source matched: the model answers on its own, without sources..." if update.prompt
                        else "Answered without the model: no source matched.")
    return found + "Generating..."


def prompt_shown(update: TurnUpdate) -> str:
    """The prompt panel: the exact prompt, or why there was none."""
    if update.prompt or not update.grounding:
        return update.prompt
    if update.grounding.supported:
        return "The model was not called: the answer style quotes the sources."
    return (f"The model was not called: no passage scored above the support threshold (best similarity "
            f"{update.grounding.best_score:.2f}) for the search query:\n{update.grounding.query}")


def check(message: str) -> None:
    try:
        check_message(message)
    except ChatError as e:
        raise gr.Error(str(e), print_exception=False) from e
