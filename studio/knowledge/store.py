"""Knowledge collections: documents and Q/A files indexed for retrieval, and the grounded prompt built from them.

A collection lives in its own folder, studio.core.paths.knowledge_dir()/<name>/ (storage and search: studio/knowledge/collection.py).
Adding a file embeds only that file's passages; deleting one removes its ids: the rest is never re-embedded. Every
file is parsed before anything changes, so a bad file leaves the collection exactly as it was, and a save writes
new files before collection.json names them (studio/knowledge/collection_files.py), so a kill mid-save leaves the
old collection or the new one. A collection that cannot be loaded fails alone: it is listed as damaged with the
reason, every other collection works, and it can be deleted or rebuilt from the copies of its files it keeps.

Why FAISS and not Chroma: FAISS (faiss-cpu, one wheel) plus a JSONL file is all a collection of this size needs:
exact inner-product search over 10,000 passages takes about a millisecond, the files are readable and portable,
and nothing runs in the background. Chroma brings a database, a server-style client and dozens of dependencies
(onnxruntime, grpc, opentelemetry, ...) for features we do not use here.

Retrieval: dense (cosine), BM25 (keywords) or hybrid, the two ranked lists fused by reciprocal rank fusion,
score = sum of 1 / (RRF_K + rank). Measured with all-MiniLM-L6-v2, k=3, chunks of 800 characters (overlap 100):
  24 policy questions (tests/data/knowledge/policy_questions.csv; a hit = a passage holds the evidence sentence)
                   policy_wording.md       policy_wording.pdf
    hybrid         hit@1 0.83  hit@3 0.92  hit@1 0.88  hit@3 0.96
    dense          hit@1 0.79  hit@3 0.92  hit@1 0.83  hit@3 0.92
    bm25           hit@1 0.71  hit@3 0.88  hit@1 0.71  hit@3 0.92
  assets/test_policy.csv (24 rows; a hit = the expected page in the PDF, the expected heading in the Markdown)
    hybrid         hit@1 0.75  hit@3 0.92  hit@1 0.71  hit@3 0.96
    dense          hit@1 0.71  hit@3 0.88  hit@1 0.54  hit@3 0.79
    bm25           hit@1 0.67  hit@3 0.92  hit@1 0.71  hit@3 0.88
  assets/test_brief.csv over insurer_faq.csv (the 26 of 36 rows whose reference holds numbers; a hit = the
  retrieved pair's answer holds every number of the reference answer)
    hybrid hit@1 0.88 hit@3 1.00 · dense 0.85 / 0.96 · bm25 0.65 / 0.96
Hybrid is therefore the default. PDF passages carry the headings found by type size (studio/knowledge/documents.py): before
that, with one block per page and no headings, the PDF scored hybrid hit@3 0.88 and dense 0.75 on test_policy.csv
("Who counts as an insured person?" drowned in a page of definitions). Chunk sizes, hybrid, mean over both files
(measured before PDF headings): on our 24 questions 400/800/1200 gave hit@1 0.71/0.79/0.79 and hit@3
0.88/0.94/0.94; over both question sets 600/800/1000 gave hit@1 0.71/0.75/0.75 and hit@3 0.93/0.92/0.93,
differences of one or two questions. 800 keeps chunks under MiniLM's 256-token input and prompts short.
In a collection of several files the k passages are chosen from the ranking's best CANDIDATES so that no file takes
more than half of them (reading.spread_over_files): in one collection of the FAQ (395 rows) and the policy PDF
(68 passages), FAQ rows that echo a question's words otherwise fill the top 3. On dev questions
(bench/passage_choice.py, k=3, this 2-core AMD EPYC): policy questions hit@3 0.50 -> 0.88, FAQ questions 0.85 ->
0.96, at no cost in time; re-scoring the 20 candidates by their best sentence (0.6 s a question), by
all-mpnet-base-v2 (5 s) or MMR (0.7 s) found no more within the top 3 and, without the spread, fewer.
`has_support` looks at the best *dense* score, which, unlike a fused rank score, means the same for every query:
on-topic questions scored at least 0.336 (policy) and 0.470 (FAQ), 15 off-topic ones ("What is the capital of
France?") at most 0.200, hence SUPPORT_THRESHOLD 0.27.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from studio.core import paths
from studio.knowledge import collection_files, reading
from studio.knowledge.collection import (
    DEFAULT_MODE,
    META,
    SAMPLE_FILES,
    SAMPLE_POLICY,
    Collection,
    CollectionInfo,
    DamagedCollection,
    KnowledgeError,
    Passage,
    check_name,
    folder_of,
    missing,
    names,
    shared_sample,
)

SUPPORT_THRESHOLD = 0.27
"""Best dense (cosine) score below which a question counts as unsupported: midway between the lowest on-topic
(0.336) and highest off-topic (0.200) scores measured on the sample policy and FAQ (module docstring)."""


# ------------------------------------------------------------------------------------------------ the API

_cache: dict[str, tuple[tuple, Collection | DamagedCollection]] = {}
_lock = threading.Lock()


def _folder(name: str) -> Path:
    return folder_of(name)


def _writable(name: str) -> None:
    if shared_sample(name):
        raise KnowledgeError(f"{name!r} is a sample collection every visitor reads: it cannot be changed. Add its "
                             "files (the samples in the list) to a collection of your own instead")


def _stamp(folder: Path) -> tuple | None:
    try:
        stat = (folder / META).stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size  # a save renames a new file over it: a new inode


def _load(name: str) -> Collection:
    """The loaded collection, re-read when its collection.json changed on disk (another process added a file). A
    damaged one is remembered as such until then, so listing does not re-read its files each time."""
    folder = _folder(name)
    key = str(folder)
    for _ in range(3):
        stamp = _stamp(folder)
        if stamp is None:
            raise missing(name)
        cached = _cache.get(key)  # once: another thread's save may drop it at any moment
        if cached and cached[0] == stamp:
            loaded = cached[1]
            break
        try:
            loaded = Collection(name)
        except DamagedCollection as e:
            loaded = e
        _cache[key] = (stamp, loaded)
        if _stamp(folder) == stamp:  # else a save finished while this one was read, removing the files it named
            break
    if isinstance(loaded, DamagedCollection):
        raise DamagedCollection(loaded.name, loaded.reason)
    return loaded


def list_collections() -> list[CollectionInfo]:
    """Every collection on disk with its files and passage counts. One that cannot be loaded is listed with
    `damaged` saying why (and the files its collection.json lists, when it can be read): it never hides the rest."""
    collection_files.remove_leftovers(paths.knowledge_dir())
    infos = []
    for name in names():
        try:
            infos.append(CollectionInfo(name, {f: i["passages"] for f, i in _load(name).meta["files"].items()}))
        except DamagedCollection as e:
            infos.append(CollectionInfo(name, _listed_files(name), damaged=e.reason))
        except KnowledgeError:  # deleted since names() listed it
            continue
        except Exception as e:  # noqa: BLE001 - whatever else a collection's files make a reader raise
            infos.append(CollectionInfo(name, _listed_files(name), damaged=f"it cannot be read ({e!r})"))
    return infos


def _listed_files(name: str) -> dict[str, int]:
    try:
        return {f: i["passages"] for f, i in collection_files.read_meta(_folder(name))["files"].items()}
    except KnowledgeError:
        return {}


def add_files(name: str, files: list[str | Path], replace: bool = False, progress=None) -> dict[str, int]:
    """Index files into collection `name`, creating it when missing; returns passages per file. A file whose name
    is already in the collection is refused unless `replace=True` (then its old passages are removed).
    `progress(done, total, what)` hears of each file read and embedded."""
    if not files:
        raise KnowledgeError("No files given: name at least one document or Q/A file to add")
    _writable(name)
    with _lock:
        collection = _load(name) if _stamp(_folder(name)) else Collection(name, empty=True)
        try:
            return collection.add([Path(f) for f in files], replace=replace, progress=progress)
        finally:  # a failed add may have changed the loaded collection before its save
            _cache.pop(str(collection.folder), None)


def passages(name: str) -> list[Passage]:
    """Every passage of collection `name`, in index order."""
    return list(_load(name).passages)


def meta(name: str) -> dict:
    """Collection `name`'s collection.json: files, embedding model, and for a copy where it came from."""
    return json.loads(json.dumps(_load(name).meta))


def original_file(name: str, file: str) -> Path | None:
    """The stored copy of `file`, one of the file names collection `name` lists (a path is refused): what was
    added, byte for byte. None when the collection was made before copies were kept, or the copy is gone."""
    folder = _folder(name)
    if not (folder / META).is_file():
        raise missing(name)
    return collection_files.original(folder, collection_files.read_meta(folder), file)


def copy_without(name: str, new_name: str, passage_ids: set[int]) -> str:
    """Collection `new_name`: `name` without the passages `passage_ids` (an existing `new_name` is replaced)."""
    with _lock:
        source = _load(name)
        try:
            return source.copy_without(new_name, passage_ids).name
        finally:
            _cache.pop(str(_folder(new_name)), None)


def create(name: str, files: list[str | Path]) -> dict[str, int]:
    """A new collection from `files`; refused when `name` already exists."""
    if check_name(name) in names():
        raise KnowledgeError(f"A collection named {name!r} already exists; add files to it or pick another name")
    return add_files(name, files)


def delete(name: str, file: str | None = None) -> str:
    """Delete one file's passages from a collection, or (file=None) the whole collection, damaged or not; returns
    what happened."""
    _writable(name)
    with _lock:
        folder = _folder(name)
        try:
            if file is not None:
                return f"Removed {file} ({_load(name).remove(Path(file).name)} passages) from {name!r}"
            if not (folder / META).is_file():
                raise missing(name)
            collection_files.remove_folder(folder)
            return f"Deleted collection {name!r}"
        finally:
            _cache.pop(str(folder), None)
            collection_files.remove_leftovers(paths.knowledge_dir())


def rebuild(name: str, progress=None) -> dict[str, int]:
    """Index collection `name` again from the copies of its files it keeps: the way back for a damaged collection
    (any file but the originals lost, cut short or changed). Refused, changing nothing, when a file has no stored
    copy: the message names the files to add again. Returns passages per file."""
    _writable(name)
    with _lock:
        folder = _folder(name)
        if _stamp(folder) is None:  # a folder without collection.json is an add that never finished: not rebuilt
            raise missing(name)
        try:
            old = collection_files.read_meta(folder)
        except DamagedCollection:
            old = None
        if old and old.get("copied_from"):
            raise KnowledgeError(f"{name!r} is a copy of {old['copied_from']!r} with Q/A pairs held out: hold them "
                                 "out again to make it anew")
        sources = collection_files.stored_originals(folder, old)
        fresh = Collection(name, empty=True)
        fresh.meta.update({k: old[k] for k in ("chunk_chars", "chunk_overlap") if k in (old or {})})
        try:
            return fresh.add(list(sources.values()), progress=progress)
        finally:
            _cache.pop(str(folder), None)


def sample_collection(name: str = SAMPLE_POLICY) -> str:
    """Build shipped sample collection `name` (see SAMPLE_FILES) on first use, in the shared knowledge folder that
    every workspace reads; later calls find it and change nothing. Returns the name, ready for `retrieve`."""
    if name not in SAMPLE_FILES:
        raise KnowledgeError(f"{name!r} is not a sample collection; they are {', '.join(SAMPLE_FILES)}")
    if name in names():
        return name
    with paths.workspace(""):  # built once, in the shared folder, for every workspace
        try:
            add_files(name, [paths.ASSETS / SAMPLE_FILES[name]])
        except KnowledgeError:
            if name not in names():  # not another thread or process that built it first
                raise
    return name


CANDIDATES = 20
"""How many of the ranking's best passages the k given to the model are chosen from (reading.spread_over_files)."""


def retrieve(name: str, query: str, k: int = 3, mode: str = DEFAULT_MODE, spread: bool = True) -> list[Passage]:
    """The `k` best passages of collection `name` for `query`, best first (see module docstring for modes); with
    `spread`, no file takes more than half of them while another file has a candidate."""
    found = _load(name).search(query, max(k, CANDIDATES) if spread else k, mode)
    return reading.spread_over_files(found, k) if spread else found


def retrieve_many(name: str, queries: list[str], k: int = 3, mode: str = DEFAULT_MODE,
                  spread: bool = True) -> list[list[Passage]]:
    """`retrieve` for many queries, their embeddings computed in batches (4x faster per query on one CPU thread
    than one by one): retrieval-augmented fine-tuning and evaluation retrieve for every question at once."""
    from studio.knowledge.embeddings import embedder

    collection = _load(name)
    vectors = embedder().encode(queries) if queries else []
    depth = max(k, CANDIDATES) if spread else k
    found = [collection.search(q, depth, mode, vector=v) for q, v in zip(queries, vectors)]
    return [reading.spread_over_files(f, k) for f in found] if spread else found


def has_support(passages: list[Passage], threshold: float = SUPPORT_THRESHOLD) -> bool:
    """Whether the best passage is close enough in meaning to the question for an answer to rest on it."""
    return bool(passages) and max(p.dense_score for p in passages) >= threshold


GROUNDING_INSTRUCTIONS = (
    "Answer the question using only the numbered sources below. Cite the sources you used by their numbers, "
    "like [1] or [2]. If the sources do not contain the answer, say that you have no source for that, and do "
    "not guess.")
NO_SOURCE_INSTRUCTIONS = ("No source in the knowledge collection answers this question. Say that you have no "
                          "source for that, and do not guess.")


def grounded_prompt(passages: list[Passage], system_prompt: str = "") -> str:
    """The system prompt, the instruction to answer only from the sources, and the numbered passages."""
    head = system_prompt.strip() + "\n\n" if system_prompt.strip() else ""
    if not passages:
        return head + NO_SOURCE_INSTRUCTIONS
    sources = "\n\n".join(f"[{n}] ({p.citation})\n{p.text}" for n, p in enumerate(passages, 1))
    return f"{head}{GROUNDING_INSTRUCTIONS}\n\nSources:\n\n{sources}"


def standalone_query(question: str, earlier_user_turns: list[str], turns: int = 2) -> str:
    """The cheap follow-up rewrite: the last `turns` user messages before the question, then the question, so
    "how many days is it?" after "What is the maternity waiting period?" keeps the topic's words."""
    recent = [t.strip() for t in earlier_user_turns[-turns:] if t and t.strip()] if turns > 0 else []
    return "\n".join(recent + [question.strip()])
