"""The Chat tab's "Open a source": pick one of the latest grounded reply's numbered sources and see where it stands:
a PDF passage's page drawn with the sentences the answer used marked, with that page alone as a PDF to keep; any
other file handed over whole. The files are the copies a collection keeps of what was added to it
(studio.knowledge.store.original_file); a source is opened only from this session's own replies."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import gradio as gr

from studio.knowledge import source_view, store
from studio.knowledge.collection import KnowledgeError


def source_choices(sources: dict | None):
    """The picker: the sources of the latest reply that has any, as ("[n] citation", "reply:n")."""
    if not sources:
        return gr.Dropdown(choices=[], value=None)
    reply = max(sources, key=int)
    choices = [(f"[{n}] {p['citation']}", f"{reply}:{n}") for n, p in enumerate(sources[reply], 1)]
    return gr.Dropdown(choices=choices, value=None)


def _picked(choice: str, sources: dict) -> dict:
    reply, _, n = (choice or "").partition(":")
    try:
        passages = sources.get(int(reply)) or sources.get(reply) or []
        return passages[int(n) - 1]
    except (ValueError, IndexError):
        raise gr.Error("Pick one of the sources listed: they are the latest reply's.", print_exception=False) from None


def open_source(choice: str | None, sources: dict | None):
    """(page image or None, file to keep or None, what is shown) for the source `choice` names."""
    if not choice:
        return None, None, ""
    passage = _picked(choice, sources or {})
    file, citation = passage["file"], passage["citation"]
    try:
        original = store.original_file(passage.get("collection") or "", file)
    except KnowledgeError as e:
        raise gr.Error(str(e), print_exception=False) from e
    if original is None:
        return None, None, (f"**{citation}**: collection {passage.get('collection')!r} keeps no copy of {file} (it "
                            "was added before collections kept their files); add the file again to open it here.")
    folder = Path(tempfile.mkdtemp(prefix="cqa-source-"))
    if passage.get("page") and original.suffix.lower() == ".pdf":
        try:
            image, found = source_view.page_image(original, int(passage["page"]), passage.get("used") or [])
            kept = folder / f"{Path(file).stem}-p{passage['page']}.pdf"
            kept.write_bytes(source_view.page_pdf(original, int(passage["page"])))
        except source_view.SourceError as e:
            raise gr.Error(str(e), print_exception=False) from e
        marked = (f"; the {'sentence' if found == 1 else 'sentences'} the answer used marked" if found
                  else "; the answer used no sentence of it word for word" if not passage.get("used")
                  else "; the sentence the answer used could not be found on the drawn page to mark")
        return image, str(kept), f"**[{choice.partition(':')[2]}] {citation}**: page {passage['page']} of {file}{marked}."
    kept = folder / file
    shutil.copyfile(original, kept)
    return None, str(kept), f"**[{choice.partition(':')[2]}] {citation}**: the whole file, as it was added."


def build_source_viewer(sources: gr.State) -> None:
    """The "Open a source" section, below the conversation; its picker follows `sources`."""
    with gr.Accordion("Open a source: the PDF page with the used sentence marked, or the file", open=False):
        pick = gr.Dropdown([], label="Source of the latest answer", info="numbered as in the answer")
        note = gr.Markdown()
        page = gr.Image(show_label=False, interactive=False, type="pil", buttons=["fullscreen"])
        kept = gr.File(label="The page alone (PDF), or the file", interactive=False)
    sources.change(source_choices, sources, pick, api_visibility="private")
    pick.change(open_source, [pick, sources], [page, kept, note], api_name="open_source")
