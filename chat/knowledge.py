"""Knowledge collections: documents and Q/A files indexed for retrieval, and the grounded prompt built from them.

A collection lives in its own folder, chat.paths.knowledge_dir()/<name>/:
  collection.json   files (name, sha256, size, passage ids), embedding model, chunk sizes
  passages.jsonl    one passage per line: id, text, file, page, section, heading path, row
  dense.faiss       FAISS IndexIDMap2(IndexFlatIP) of normalised all-MiniLM-L6-v2 vectors, keyed by passage id
BM25 (bm25s) is rebuilt from passages.jsonl when a collection is loaded (well under a second for 10,000 passages)
rather than stored. Adding a file embeds only that file's passages; deleting one removes its ids: the rest is never
re-embedded. Every write goes to a temporary file first and replaces the old one, and every file is parsed before
anything changes, so a bad file leaves the collection exactly as it was.

Why FAISS and not Chroma: FAISS (faiss-cpu, one wheel) plus a JSONL file is all a collection of this size needs:
exact inner-product search over 10,000 passages takes about a millisecond, the files are readable and portable,
and nothing runs in the background. Chroma brings a database, a server-style client and dozens of dependencies
(onnxruntime, grpc, opentelemetry, ...) for features we do not use here.

Retrieval: dense (cosine), BM25 (keywords) or hybrid, the two ranked lists fused by reciprocal rank fusion,
score = sum of 1 / (RRF_K + rank). Measured with all-MiniLM-L6-v2, k=3, chunks of 800 characters (overlap 100):
  24 policy questions (tests/data/knowledge/policy_questions.csv; a hit = a passage holds the evidence sentence)
                   policy_wording.md       policy_wording.pdf
    hybrid         hit@1 0.83  hit@3 0.92  hit@1 0.75  hit@3 0.96
    dense          hit@1 0.79  hit@3 0.92  hit@1 0.50  hit@3 0.88
    bm25           hit@1 0.71  hit@3 0.88  hit@1 0.67  hit@3 0.88
  assets/test_brief.csv over insurer_faq.csv (the 26 of 36 rows whose reference holds numbers; a hit = the
  retrieved pair's answer holds every number of the reference answer)
    hybrid hit@1 0.88 hit@3 1.00 · dense 0.85 / 0.96 · bm25 0.65 / 0.96
  assets/test_policy.csv (24 rows; a hit = the expected page in the PDF, the expected heading in the Markdown)
    hybrid         hit@1 0.75  hit@3 0.92  hit@1 0.67  hit@3 0.88
    dense          hit@1 0.71  hit@3 0.88  hit@1 0.50  hit@3 0.75
    bm25           hit@1 0.67  hit@3 0.92  hit@1 0.67  hit@3 0.83
Hybrid is therefore the default. Chunk sizes, hybrid, mean over both files: on our 24 questions 400/800/1200 gave
hit@1 0.71/0.79/0.79 and hit@3 0.88/0.94/0.94; over both question sets 600/800/1000 gave hit@1 0.71/0.75/0.75 and
hit@3 0.93/0.92/0.93, differences of one or two questions. 800 keeps chunks under MiniLM's 256-token input and
prompts short (600 gives the PDF 0.96 on test_policy.csv but 0.88 on our set; 800 the reverse).
`has_support` looks at the best *dense* score, which, unlike a fused rank score, means the same for every query:
on-topic questions scored at least 0.336 (policy) and 0.470 (FAQ), 15 off-topic ones ("What is the capital of
France?") at most 0.200, hence SUPPORT_THRESHOLD 0.27.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from chat import documents, paths
from chat.documents import Chunk, DocumentError

MODES = ("hybrid", "dense", "bm25")
DEFAULT_MODE = "hybrid"
RRF_K = 60
SUPPORT_THRESHOLD = 0.27
"""Best dense (cosine) score below which a question counts as unsupported: midway between the lowest on-topic
(0.336) and highest off-topic (0.200) scores measured on the sample policy and FAQ (module docstring)."""
TOKEN_PATTERN = r"(?u)\b\w+\b"
"""BM25 tokens: words and numbers, single digits included ("5 days")."""
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
META, PASSAGES, DENSE = "collection.json", "passages.jsonl", "dense.faiss"


class KnowledgeError(Exception):
    """A collection request that cannot be carried out; nothing was changed, and the message says why."""


@dataclass
class Passage:
    text: str
    file: str
    score: float = 0.0
    """The ranking score of the mode used: fused RRF score, cosine similarity, or BM25 score."""
    dense_score: float = 0.0
    bm25_score: float = 0.0
    page: int | None = None
    section: str = ""
    heading_path: str = ""
    row: int | None = None
    row_kind: str = ""
    id: int = -1

    @property
    def citation(self) -> str:
        """"policy_wording.pdf p. 7", "insurer_faq.csv row 12", "policy_wording.md § 4.2 Room Rent"."""
        if self.row is not None:
            return f"{self.file} {self.row_kind or 'row'} {self.row}"
        if self.page is not None:
            return f"{self.file} p. {self.page}"
        return f"{self.file} § {self.section}" if self.section else self.file

    def to_dict(self) -> dict:
        return asdict(self) | {"citation": self.citation}


@dataclass
class CollectionInfo:
    name: str
    files: dict[str, int] = field(default_factory=dict)
    """File name -> number of passages."""

    @property
    def passages(self) -> int:
        return sum(self.files.values())


def _index_text(p: Passage | Chunk) -> str:
    """What is embedded and keyword-indexed: a document chunk with its heading path, so "Maternity > waiting
    period" matches a passage whose body never repeats the heading."""
    return f"{p.heading_path}\n{p.text}" if p.heading_path else p.text


def _tokens(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, token_pattern=TOKEN_PATTERN, stopwords="english", return_ids=False,
                          show_progress=False)


class Collection:
    """One collection folder, loaded. Use the module functions; this class is their shared state."""

    def __init__(self, name: str, create: bool = False):
        self.name = check_name(name)
        self.folder = paths.inside(paths.knowledge_dir(), self.name)
        if not (self.folder / META).is_file():
            if not create:
                raise KnowledgeError(f"No collection named {name!r}. Existing: {', '.join(names()) or 'none'}")
            self.meta = {"name": self.name, "embedding": "all-MiniLM-L6-v2", "chunk_chars": documents.CHUNK_CHARS,
                         "chunk_overlap": documents.CHUNK_OVERLAP, "files": {}, "next_id": 0}
            self.passages: list[Passage] = []
            self.dense = _new_dense()
        else:
            self.meta = json.loads((self.folder / META).read_text())
            with (self.folder / PASSAGES).open() as f:
                self.passages = [Passage(**json.loads(line)) for line in f if line.strip()]
            self.dense = _faiss().read_index(str(self.folder / DENSE))
            if self.dense.ntotal != len(self.passages):
                raise KnowledgeError(f"Collection {name!r} is damaged ({self.dense.ntotal} vectors for "
                                     f"{len(self.passages)} passages); delete it and add its files again")
        self._rebuild_keywords()

    def _rebuild_keywords(self) -> None:
        import bm25s

        self.bm25 = bm25s.BM25()
        if self.passages:
            self.bm25.index(_tokens([_index_text(p) for p in self.passages]), show_progress=False)
        self.position = {p.id: i for i, p in enumerate(self.passages)}

    def add(self, files: list[Path], replace: bool = False) -> dict[str, int]:
        """Parse every file first; any problem raises before the collection changes."""
        parsed, problems = {}, []
        known = {info["sha256"]: name for name, info in self.meta["files"].items()}
        for path in files:
            try:
                data = path.read_bytes() if path.is_file() else b""
                digest = hashlib.sha256(data).hexdigest()
                if path.name in parsed:
                    raise DocumentError(f"{path.name}: given twice")
                if path.name in self.meta["files"] and not replace:
                    raise DocumentError(f"{path.name}: already in collection {self.name!r}; delete it first, or "
                                        "add it with replace (--replace) to re-index the new version")
                if known.get(digest, path.name) != path.name:
                    raise DocumentError(f"{path.name}: the same content is already in {self.name!r} as "
                                        f"{known[digest]}")
                chunks = documents.read_file(path, self.meta["chunk_chars"], self.meta["chunk_overlap"])
                parsed[path.name] = (chunks, digest, len(data))
            except DocumentError as e:
                problems.append(str(e))
        if problems:
            raise KnowledgeError("Nothing was added. " + " | ".join(problems))
        from chat.embeddings import embedder

        kept = [p for p in self.passages if p.file not in parsed]
        removed = [p.id for p in self.passages if p.file in parsed]
        new, vectors_by_file = [], []
        for name, (chunks, digest, size) in parsed.items():
            ids = range(self.meta["next_id"], self.meta["next_id"] + len(chunks))
            self.meta["next_id"] += len(chunks)
            batch = [Passage(c.text, c.file, page=c.page, section=c.section, heading_path=c.heading_path,
                             row=c.row, row_kind=c.row_kind, id=i) for c, i in zip(chunks, ids)]
            vectors_by_file.append(embedder().encode([_index_text(p) for p in batch]))
            new += batch
            self.meta["files"][name] = {"sha256": digest, "bytes": size, "passages": len(batch),
                                        "added": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if removed:
            self.dense.remove_ids(np.array(removed, dtype=np.int64))
        self.dense.add_with_ids(np.concatenate(vectors_by_file), np.array([p.id for p in new], dtype=np.int64))
        self.passages = kept + new
        self._save()
        return {name: len(chunks) for name, (chunks, _, _) in parsed.items()}

    def remove(self, file: str) -> int:
        if file not in self.meta["files"]:
            raise KnowledgeError(f"{file!r} is not in collection {self.name!r}; it has: "
                                 f"{', '.join(self.meta['files']) or 'no files'}")
        ids = [p.id for p in self.passages if p.file == file]
        self.dense.remove_ids(np.array(ids, dtype=np.int64))
        self.passages = [p for p in self.passages if p.file != file]
        del self.meta["files"][file]
        self._save()
        return len(ids)

    def _save(self) -> None:
        import faiss

        self.folder.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps({k: v for k, v in asdict(p).items() if k not in ("score", "dense_score",
                                   "bm25_score")}) + "\n" for p in self.passages)
        _write_atomic(self.folder / PASSAGES, lines.encode())
        _write_atomic(self.folder / DENSE, faiss.serialize_index(self.dense).tobytes())
        _write_atomic(self.folder / META, json.dumps(self.meta, indent=2).encode())  # last: marks the write done
        self._rebuild_keywords()

    def search(self, query: str, k: int = 3, mode: str = DEFAULT_MODE, vector: np.ndarray | None = None) -> list[Passage]:
        """`vector`: the query's embedding when the caller computed it already (retrieve_many)."""
        if mode not in MODES:
            raise KnowledgeError(f"Unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        if not query.strip() or not self.passages:
            return []
        from chat.embeddings import embedder

        position = self.position
        vector = embedder().encode([query]) if vector is None else vector.reshape(1, -1)
        n = len(self.passages)
        depth = n if mode == "dense" else min(n, max(50, 10 * k))
        scores, ids = self.dense.search(vector, depth)
        dense = {position[int(i)]: float(s) for s, i in zip(scores[0], ids[0]) if i >= 0}
        keyword = self.bm25.get_scores(_tokens([query])[0])
        if mode == "dense":
            ranked = sorted(dense, key=dense.get, reverse=True)
            fused = dense
        else:
            keyword_order = [int(i) for i in np.argsort(-keyword, kind="stable")[:depth] if keyword[i] > 0]
            if mode == "bm25":
                ranked, fused = keyword_order, {i: float(keyword[i]) for i in keyword_order}
            else:
                dense_order = sorted(dense, key=dense.get, reverse=True)
                fused = {}
                for order in (dense_order, keyword_order):
                    for rank, i in enumerate(order, 1):
                        fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
                ranked = sorted(fused, key=fused.get, reverse=True)
        results = []
        for i in ranked[:k]:
            p = self.passages[i]
            cosine = dense[i] if i in dense else float(self.dense.reconstruct(p.id) @ vector[0])
            results.append(Passage(**{**asdict(p), "score": fused[i], "dense_score": cosine,
                                      "bm25_score": float(keyword[i])}))
        return results


def _faiss():
    import faiss

    # One query searches 10,000 vectors in about a millisecond on one thread; with OpenMP threads on a busy
    # 2-core machine the same search took 27 ms (measured), so searches run single-threaded.
    faiss.omp_set_num_threads(1)
    return faiss


def _new_dense():
    faiss = _faiss()

    from chat.embeddings import DIMENSION

    return faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
    os.replace(tmp, path)


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_PATTERN.fullmatch(name):
        raise KnowledgeError(f"{name!r} is not a valid collection name: use 1-64 letters, digits, '_', '-' or '.', "
                             "starting with a letter or digit")
    paths.inside(paths.knowledge_dir(), name)
    return name


# ------------------------------------------------------------------------------------------------ the API

_cache: dict[str, tuple[float, Collection]] = {}
_lock = threading.Lock()


def _load(name: str) -> Collection:
    """The loaded collection, re-read when its collection.json changed on disk (another process added a file)."""
    folder = paths.inside(paths.knowledge_dir(), check_name(name))
    stamp = (folder / META).stat().st_mtime_ns if (folder / META).is_file() else -1
    key = str(folder)
    if key not in _cache or _cache[key][0] != stamp:
        _cache[key] = (stamp, Collection(name))
    return _cache[key][1]


def names() -> list[str]:
    root = paths.knowledge_dir()
    return sorted(p.name for p in root.iterdir() if (p / META).is_file()) if root.is_dir() else []


def list_collections() -> list[CollectionInfo]:
    """Every collection on disk with its files and passage counts."""
    return [CollectionInfo(name, {f: info["passages"] for f, info in _load(name).meta["files"].items()})
            for name in names()]


def add_files(name: str, files: list[str | Path], replace: bool = False) -> dict[str, int]:
    """Index files into collection `name`, creating it when missing; returns passages per file. A file whose name
    is already in the collection is refused unless `replace=True` (then its old passages are removed)."""
    if not files:
        raise KnowledgeError("No files given: name at least one document or Q/A file to add")
    with _lock:
        collection = _load(name) if name in names() else Collection(name, create=True)
        added = collection.add([Path(f) for f in files], replace=replace)
        _cache.pop(str(collection.folder), None)
        return added


def create(name: str, files: list[str | Path]) -> dict[str, int]:
    """A new collection from `files`; refused when `name` already exists."""
    if check_name(name) in names():
        raise KnowledgeError(f"A collection named {name!r} already exists; add files to it or pick another name")
    return add_files(name, files)


def delete(name: str, file: str | None = None) -> str:
    """Delete one file's passages from a collection, or (file=None) the whole collection; returns what happened."""
    import shutil

    with _lock:
        collection = _load(name)
        _cache.pop(str(collection.folder), None)
        if file is None:
            shutil.rmtree(collection.folder)
            return f"Deleted collection {name!r}"
        return f"Removed {file} ({collection.remove(Path(file).name)} passages) from {name!r}"


SAMPLE_POLICY = "sample-policy"
SAMPLE_FAQ = "sample-faq"
SAMPLE_FILES = {SAMPLE_POLICY: "policy_wording.pdf", SAMPLE_FAQ: "insurer_faq.csv"}
"""The shipped sample collections and the file in assets/ each is built from. Two collections, not one: the policy
PDF (passages cite their page) answers assets/test_policy.csv, whose rows name the expected page and section; the
FAQ pairs (passages cite their row) answer test_brief/test_detailed and ground retrieval-augmented fine-tuning on
insurer_faq.csv. Mixed into one collection, FAQ pairs that paraphrase the policy would crowd policy passages out of
the top 3 and hit@k on the policy set would no longer measure the policy's own retrieval."""


def sample_collection(name: str = SAMPLE_POLICY) -> str:
    """Build shipped sample collection `name` (see SAMPLE_FILES) on first use, in paths.knowledge_dir(); later calls
    find it and change nothing. Returns the name, ready for `retrieve`."""
    if name not in SAMPLE_FILES:
        raise KnowledgeError(f"{name!r} is not a sample collection; they are {', '.join(SAMPLE_FILES)}")
    if name not in names():
        try:
            add_files(name, [Path(__file__).resolve().parent.parent / "assets" / SAMPLE_FILES[name]])
        except KnowledgeError:
            if name not in names():  # not another thread or process that built it first
                raise
    return name


def retrieve(name: str, query: str, k: int = 3, mode: str = DEFAULT_MODE) -> list[Passage]:
    """The `k` best passages of collection `name` for `query`, best first (see module docstring for modes)."""
    return _load(name).search(query, k, mode)


def retrieve_many(name: str, queries: list[str], k: int = 3, mode: str = DEFAULT_MODE) -> list[list[Passage]]:
    """`retrieve` for many queries, their embeddings computed in batches (4x faster per query on one CPU thread
    than one by one): retrieval-augmented fine-tuning retrieves for every training example."""
    from chat.embeddings import embedder

    collection = _load(name)
    vectors = embedder().encode(queries) if queries else []
    return [collection.search(q, k, mode, vector=v) for q, v in zip(queries, vectors)]


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


# ------------------------------------------------------------------------------------------------ CLI


def _ask(name: str, question: str, model: str, k: int, mode: str, threshold: float) -> None:
    from chat.engine import DEFAULT_SYSTEM_PROMPT, GenerationSettings, chat_turn
    from chat.grounding import no_source_reply
    from chat.memory import MemoryConfig, MemoryState
    from chat.models import load_model

    passages = retrieve(name, question, k, mode)
    if not has_support(passages, threshold):
        # Not left to the model: asked to admit it had no source, Qwen2.5-0.5B still answered from memory.
        best = max((p.dense_score for p in passages), default=0.0)
        print(f"{no_source_reply(name)}\n\n(best passage cosine {best:.2f} < threshold {threshold:.2f})")
        return
    loaded = load_model(model, progress=lambda m: print(m, file=sys.stderr))
    settings = GenerationSettings(system_prompt=grounded_prompt(passages, DEFAULT_SYSTEM_PROMPT), temperature=0.0,
                                  max_new_tokens=160)
    update = None
    for update in chat_turn(loaded, MemoryConfig("buffer"), MemoryState(), question, settings):
        pass
    print((update.reply if update else "") + "\n\nSources:")
    for n, p in enumerate(passages, 1):
        print(f"  [{n}] {p.citation} (cosine {p.dense_score:.2f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat.knowledge", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="index files into a collection (created when missing)")
    add.add_argument("name")
    add.add_argument("files", nargs="+")
    add.add_argument("--replace", action="store_true", help="re-index files already in the collection")
    commands.add_parser("list", help="collections, their files and passage counts")
    remove = commands.add_parser("delete", help="delete a collection, or one file from it")
    remove.add_argument("name")
    remove.add_argument("file", nargs="?")
    for command in ("search", "ask"):
        sub = commands.add_parser(command, help="show the best passages" if command == "search"
                                  else "answer from the collection with a model, and cite the sources")
        sub.add_argument("name")
        sub.add_argument("question")
        sub.add_argument("-k", type=int, default=3)
        sub.add_argument("--mode", choices=MODES, default=DEFAULT_MODE)
        if command == "ask":
            sub.add_argument("--model", default="bundled:qwen2.5-coder-0.5b-instruct")
            sub.add_argument("--threshold", type=float, default=SUPPORT_THRESHOLD)
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            for file, count in add_files(args.name, args.files, replace=args.replace).items():
                print(f"{file}: {count} passages")
        elif args.command == "list":
            for info in list_collections():
                print(f"{info.name}: {info.passages} passages")
                for file, count in info.files.items():
                    print(f"  {file}: {count}")
        elif args.command == "delete":
            print(delete(args.name, args.file))
        elif args.command == "search":
            for n, p in enumerate(retrieve(args.name, args.question, args.k, args.mode), 1):
                print(f"[{n}] {p.citation}  score {p.score:.4f}  cosine {p.dense_score:.3f}  bm25 {p.bm25_score:.2f}")
                print("    " + p.text.replace("\n", "\n    "))
        else:
            _ask(args.name, args.question, args.model, args.k, args.mode, args.threshold)
    except (KnowledgeError, paths.PathError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
