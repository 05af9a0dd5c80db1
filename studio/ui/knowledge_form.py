"""The Knowledge tab's logic, without Gradio: build collections from registered Q/A datasets, the samples and
uploaded documents; list, delete and search them (studio/ui/knowledge.py draws the tab). It joins two lower layers:
registered datasets (studio.data.registry) and the collections themselves (studio.knowledge.store).

Every function returns text for the page or raises KnowledgeFormError with a message a user can act on; a refused
request changes nothing (studio.knowledge.store parses every file before it writes)."""

from __future__ import annotations

import html
from pathlib import Path

from studio import access
from studio.core import paths
from studio.data import qa, registry
from studio.jobs import queue
from studio.jobs.config import ConfigError
from studio.jobs.kinds import EvalJob
from studio.knowledge import collection, store
from studio.knowledge.holdout import check as check_holdout

SAMPLES = [("Sample: Nilgiri Health FAQ (Q/A pairs)", "assets/insurer_faq.csv"),
           ("Sample: Family Health Shield policy wording (PDF)", "assets/policy_wording.pdf")]
"""Offered by their place in the app ("assets/..."), registered datasets by name: no server path on the page."""


class KnowledgeFormError(Exception):
    """A request the Knowledge tab refuses; nothing was changed."""


def source_choices() -> list[tuple[str, str]]:
    """(label, file) for the samples and every registered Q/A dataset (conversation datasets hold no pairs)."""
    choices = list(SAMPLES)
    for d in registry.list_registered():
        if d["kind"] == "qa":
            choices.append((f"{d['name']} · {d['rows']} Q/A pairs (from {d['source']})", d["name"]))
    return choices


def add_to_collection(name: str, sources: list[str] | None, uploads: list[str] | None, progress=None) -> str:
    """Index the chosen datasets or samples and the uploaded files into collection `name` (created when missing).
    In shared mode a chosen source must be a sample or a registered dataset: server paths are refused."""
    sources, uploads = [s for s in sources or [] if s], [u for u in uploads or [] if u]
    if not sources and not uploads:
        raise KnowledgeFormError("Choose a Q/A dataset or upload at least one document first.")
    try:
        collection.check_name(name)
        for source in sources:
            access.check_data_path(source)
        added = store.add_files(name, [qa.data_file(f) for f in sources] + [Path(f) for f in uploads],
                                progress=progress)
    except (collection.KnowledgeError, access.AccessError, paths.PathError) as e:
        raise KnowledgeFormError(str(e)) from e
    files = ", ".join(f"{file} ({count} passages)" for file, count in added.items())
    return f"✅ Added to **{html.escape(name.strip(), quote=False)}**: {html.escape(files, quote=False)}"


def collection_rows() -> list[list]:
    """One row per file: collection, file, passages (an empty collection gets a row of its own); a damaged
    collection one row saying why, so that it can be picked, deleted or rebuilt."""
    rows = []
    for info in store.list_collections():
        if info.damaged:
            rows.append([info.name, f"⚠️ damaged: {info.damaged}", info.passages])
            continue
        rows += [[info.name, file, count] for file, count in info.files.items()] or [[info.name, "", 0]]
    return rows


def file_choices(name: str | None) -> list[tuple[str, str]]:
    """The files of collection `name`, and the choice of deleting the whole collection."""
    whole = [("(the whole collection)", "")]
    if not name or name not in collection.names():
        return whole
    info = next(i for i in store.list_collections() if i.name == name)
    if info.damaged:  # only the whole of it can go
        return whole
    return whole + [(f"{file} · {count} passages", file) for file, count in info.files.items()]


def delete(name: str | None, file: str | None) -> str:
    if not name:
        raise KnowledgeFormError("Pick a collection first.")
    try:
        return "🗑️ " + html.escape(store.delete(name, file or None), quote=False)
    except (collection.KnowledgeError, paths.PathError) as e:
        raise KnowledgeFormError(str(e)) from e


def rebuild(name: str | None, progress=None) -> str:
    """Index collection `name` again from the copies it keeps of its files (a damaged one is whole again)."""
    if not name:
        raise KnowledgeFormError("Pick a collection first.")
    try:
        rebuilt = store.rebuild(name, progress=progress)
    except (collection.KnowledgeError, paths.PathError) as e:
        raise KnowledgeFormError(str(e)) from e
    files = ", ".join(f"{file} ({count} passages)" for file, count in rebuilt.items())
    return f"🔁 Rebuilt **{html.escape(name, quote=False)}** from its stored files: {html.escape(files, quote=False)}"


def scores_text(passage: dict) -> str:
    """A passage's place in the ranking first (passages are listed by it), then what made it: the cosine
    similarity of meaning (the support threshold's scale) and the BM25 keyword score."""
    return (f"rank score {passage['score']:.3f} (meaning {passage['dense_score']:.2f}, keywords "
            f"{passage['bm25_score']:.1f})")


def search(name: str | None, question: str, k: int = 3) -> str:
    """The top passages for a question, each with its citation and scores, as Markdown."""
    if not name:
        raise KnowledgeFormError("Pick a collection first.")
    if not (question or "").strip():
        raise KnowledgeFormError("Type a question to search for.")
    try:
        found = store.retrieve(name, question, int(k))
    except (collection.KnowledgeError, paths.PathError) as e:
        raise KnowledgeFormError(str(e)) from e
    if not found:
        return "No passages: the collection is empty."
    supported = store.has_support(found)
    head = ("In the order the chat gives them to the model: by rank score (the meaning and keyword rankings "
            "fused), at most half of them from one file.\n\n" if supported else
            "⚠️ No passage scores above the support threshold: chat would answer \"I have no source for that\".\n\n")
    return head + "\n\n".join(
        f"**[{n}] {html.escape(p.citation, quote=False)}** · {scores_text(p.to_dict())}\n\n"
        + "  \n".join("> " + html.escape(line, quote=False) for line in p.text.splitlines() if line.strip())
        for n, p in enumerate(found, 1))


HELD_OUT = ""
"""The test choice "hold out pairs of the collection itself" (studio/knowledge/holdout.py)."""


def test_file_choices() -> list[tuple[str, str]]:
    """(label, file) for the sample test sets and every registered Q/A dataset: what a collection or a finished
    adapter can be tested on."""
    choices = [(f"Sample test set: {p.stem[len('test_'):]}", f"assets/{p.name}")
               for p in sorted(paths.ASSETS.glob("test_*.csv"))]
    return choices + [(f"{d['name']} · {d['rows']} questions (from {d['source']})", d["name"])
                      for d in registry.list_registered() if d["kind"] == "qa"]


def test_choices() -> list[tuple[str, str]]:
    """What a collection can be tested on: its own held-out Q/A pairs, or a test file (test_file_choices)."""
    return [("Q/A pairs held out of this collection (fair: answered without them)", HELD_OUT), *test_file_choices()]


def evaluate_collection(name: str | None, model: str, test: str | None, held_out: float = 20,
                        answer_style: str = "auto", owner: str = "") -> tuple[str, str]:
    """Queue an evaluation of collection `name` answered by `model`: on `held_out` of its own Q/A pairs (test
    HELD_OUT) or on a test file, for `owner` (the visitor: queue.submit_checked). Returns (message, run id)."""
    if not name:
        raise KnowledgeFormError("Pick a collection first.")
    holdout = int(held_out) if not test else 0
    job = EvalJob(model=(model or "").strip(), tests=[test] if test else [], knowledge=name, holdout=holdout,
                  answer_style=answer_style or "auto")
    try:
        job.validate()
        job.check_limits()
        if holdout:
            check_holdout(name, holdout)  # refused now, not minutes later in the job
        run_id = queue.submit_checked(job, owner=owner)
    except (ConfigError, access.AccessError, queue.Refused, collection.KnowledgeError, paths.PathError) as e:
        raise KnowledgeFormError(str(e)) from e
    what = f"{holdout} of its Q/A pairs, held out" if holdout else Path(test).name
    return (f"⏳ Queued **{html.escape(run_id, quote=False)}**: {html.escape(name, quote=False)} answered by "
            f"{html.escape(job.model, quote=False)} on {html.escape(what, quote=False)}. Progress: the Training "
            "tab's runs; the scores, question by question: the Results tab when it finishes.", run_id)
