"""One knowledge collection: its passages, a FAISS index of their embeddings and a BM25 keyword index.

Its folder, studio.core.paths.knowledge_dir()/<name>/, holds collection.json (files, embedding model, chunk sizes),
passages.<g>.jsonl (one passage per line: id, text, file, page, section, heading path, row), dense.<g>.faiss (FAISS
IndexIDMap2(IndexFlatIP) of normalised all-MiniLM-L6-v2 vectors, keyed by passage id) and a copy of each file added;
studio/knowledge/collection_files.py writes and checks them so that a kill mid-save leaves the old collection or the
new one, and a damaged collection raises DamagedCollection with the reason instead of loading half.
BM25 (bm25s) is rebuilt from the passages on load (well under a second for 10,000 passages) rather than stored.
studio/knowledge/store.py is the API the chat, the evaluation and the CLI use; this module is its storage and search.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from studio.core import paths
from studio.knowledge import collection_files, documents
from studio.knowledge.collection_files import META, DamagedCollection, KnowledgeError
from studio.knowledge.documents import Chunk, DocumentError

MODES = ("hybrid", "dense", "bm25")
DEFAULT_MODE = "hybrid"
RRF_K = 60
TOKEN_PATTERN = r"(?u)\b\w+\b"
"""BM25 tokens: words and numbers, single digits included ("5 days")."""
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


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
        """"policy_wording.pdf p. 7 § 8.1 Cashless claims", "insurer_faq.csv row 12", "policy_wording.md § 4.2 Room
        Rent"."""
        if self.row is not None:
            return f"{self.file} {self.row_kind or 'row'} {self.row}"
        where = f"{self.file} p. {self.page}" if self.page is not None else self.file
        return f"{where} § {self.section}" if self.section else where

    def to_dict(self) -> dict:
        return asdict(self) | {"citation": self.citation}


@dataclass
class CollectionInfo:
    name: str
    files: dict[str, int] = field(default_factory=dict)
    """File name -> number of passages (for a damaged collection, what its collection.json says, when readable)."""
    damaged: str = ""
    """Why the collection cannot be loaded; empty when it is whole."""

    @property
    def passages(self) -> int:
        return sum(self.files.values())


def _index_text(p: Passage | Chunk) -> str:
    """What is embedded and keyword-indexed: a document chunk with its heading path, so "Maternity > waiting
    period" matches a passage whose body never repeats the heading."""
    return f"{p.heading_path}\n{p.text}" if p.heading_path else p.text


def _tokens(texts: list[str]) -> list[list[str]]:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import
    return bm25s.tokenize(texts, token_pattern=TOKEN_PATTERN, stopwords="english", return_ids=False,
                          show_progress=False)


class Collection:
    """One collection folder, loaded. Use the module functions; this class is their shared state."""

    def __init__(self, name: str, empty: bool = False):
        """Collection `name` read from disk (KnowledgeError when there is none, DamagedCollection when its files do
        not add up), or with `empty`, a new one with nothing in it yet that its first save writes over the folder."""
        self.name = check_name(name)
        self.folder = paths.inside(paths.knowledge_dir(), self.name) if empty else folder_of(self.name)
        if empty:
            self.meta = {"name": self.name, "embedding": "all-MiniLM-L6-v2", "chunk_chars": documents.CHUNK_CHARS,
                         "chunk_overlap": documents.CHUNK_OVERLAP, "files": {}, "next_id": 0}
            self.passages: list[Passage] = []
            self.dense = _new_dense()
        elif not (self.folder / META).is_file():
            raise missing(name)
        else:
            self.meta = collection_files.read_meta(self.folder)
            self.passages, self.dense = _read_index(self.folder, self.meta)
        self._rebuild_keywords()

    def _rebuild_keywords(self) -> None:
        import bm25s

        self.bm25 = bm25s.BM25()
        if self.passages:
            self.bm25.index(_tokens([_index_text(p) for p in self.passages]), show_progress=False)
        self.position = {p.id: i for i, p in enumerate(self.passages)}

    def add(self, files: list[Path], replace: bool = False, progress=None) -> dict[str, int]:
        """Parse every file first; any problem raises before the collection changes. `progress(done, total, what)`
        hears of each file as it is read and as it is embedded."""
        progress = progress or (lambda done, total, what: None)
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
                progress(len(parsed), 2 * len(files), f"Reading {path.name}")
                chunks = documents.read_file(path, self.meta["chunk_chars"], self.meta["chunk_overlap"])
                parsed[path.name] = (chunks, digest, len(data), path)
            except DocumentError as e:
                problems.append(str(e))
        if problems:
            raise KnowledgeError("Nothing was added. " + " | ".join(problems))
        from studio.knowledge.embeddings import embedder

        kept = [p for p in self.passages if p.file not in parsed]
        removed = [p.id for p in self.passages if p.file in parsed]
        new, vectors_by_file = [], []
        for done, (name, (chunks, digest, size, _)) in enumerate(parsed.items(), len(parsed)):
            progress(done, 2 * len(parsed), f"Embedding {name} ({len(chunks)} passages)")
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
        for chunks, digest, size, path in parsed.values():
            collection_files.store_original(self.folder, path, digest)
        self._save()
        return {name: len(chunks) for name, (chunks, *_) in parsed.items()}

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

    def copy_without(self, name: str, ids: set[int]) -> Collection:
        """A collection `name` (written over any collection of that name) with this one's passages except `ids`:
        their vectors and stored originals are copied, nothing is embedded again. Its collection.json says where it
        came from and what was left out."""
        copy = Collection(name, empty=True)
        if copy.name == self.name:
            raise KnowledgeError(f"A copy of {self.name!r} needs a name of its own")
        kept = [p for p in self.passages if p.id not in ids]
        files = {f: {**info, "passages": sum(p.file == f for p in kept)} for f, info in self.meta["files"].items()}
        copy.meta = {k: v for k, v in self.meta.items() if k not in ("generation", "stored")} | {
            "name": copy.name, "files": files, "copied_from": self.name, "left_out": sorted(ids)}
        copy.passages = kept
        if kept:
            vectors = np.stack([self.dense.reconstruct(p.id) for p in kept])
            copy.dense.add_with_ids(vectors, np.array([p.id for p in kept], dtype=np.int64))
        collection_files.link_originals(self.folder, copy.folder, files)
        copy._save()
        return copy

    def _save(self) -> None:
        import faiss

        lines = "".join(json.dumps({k: v for k, v in asdict(p).items() if k not in ("score", "dense_score",
                                   "bm25_score")}) + "\n" for p in self.passages)
        self.meta = collection_files.save(self.folder, self.meta, lines.encode(), len(self.passages),
                                          faiss.serialize_index(self.dense).tobytes(), self.dense.ntotal)
        self._rebuild_keywords()

    def search(self, query: str, k: int = 3, mode: str = DEFAULT_MODE, vector: np.ndarray | None = None) -> list[Passage]:
        """`vector`: the query's embedding when the caller computed it already (retrieve_many)."""
        if mode not in MODES:
            raise KnowledgeError(f"Unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        if not query.strip() or not self.passages:
            return []
        from studio.knowledge.embeddings import embedder

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

    from studio.knowledge.embeddings import DIMENSION

    return faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))


def _read_index(folder: Path, meta: dict) -> tuple[list[Passage], object]:
    """The passages and vectors collection.json names, each file checked against it, and against each other."""
    def damaged(reason: str) -> DamagedCollection:
        return DamagedCollection(folder.name, reason)

    stored = collection_files.read_stored(folder, meta)
    (passages_file, data), (dense_file, dense_data) = stored["passages"], stored["dense"]
    passages = []
    for n, line in enumerate(data.split(b"\n"), 1):
        if line.strip():
            try:
                passages.append(Passage(**json.loads(line)))
            except (ValueError, TypeError):
                raise damaged(f"{passages_file} line {n} is not a passage") from None
    try:
        dense = _faiss().deserialize_index(np.frombuffer(dense_data, dtype=np.uint8))
        ids = _faiss().vector_to_array(dense.id_map)
    except Exception:  # noqa: BLE001 - faiss: RuntimeError for a cut file, AttributeError for another index kind
        raise damaged(f"{dense_file} is not a readable FAISS index") from None
    if dense.ntotal != len(passages):
        raise damaged(f"{dense.ntotal} vectors for {len(passages)} passages")
    if not np.array_equal(np.sort(ids), np.sort(np.array([p.id for p in passages], dtype=np.int64))):
        raise damaged("the vectors and the passages have different ids")
    counts = Counter(p.file for p in passages)
    for file, info in meta["files"].items():
        if counts.get(file, 0) != info["passages"]:
            raise damaged(f"{passages_file} has {counts.get(file, 0)} passages of {file} where collection.json says "
                          f"{info['passages']}")
    if set(counts) - set(meta["files"]):
        raise damaged(f"{passages_file} has passages of {', '.join(set(counts) - set(meta['files']))}, which "
                      "collection.json does not list")
    return passages, dense


SAMPLE_POLICY = "sample-policy"
SAMPLE_FAQ = "sample-faq"
SAMPLE_FILES = {SAMPLE_POLICY: "policy_wording.pdf", SAMPLE_FAQ: "insurer_faq.csv"}
"""The shipped sample collections and the file in assets/ each is built from. Two collections, not one: the policy
PDF (passages cite their page) answers assets/test_policy.csv, whose rows name the expected page and section; the
FAQ pairs (passages cite their row) answer test_brief/test_detailed and ground retrieval-augmented fine-tuning on
insurer_faq.csv. Mixed into one collection, FAQ pairs that paraphrase the policy would crowd policy passages out of
the top 3 and hit@k on the policy set would no longer measure the policy's own retrieval."""


def _names_in(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if NAME_PATTERN.fullmatch(p.name) and (p / META).is_file()) \
        if root.is_dir() else []


def names() -> list[str]:
    """The collections in studio.core.paths.knowledge_dir(), by name: folders with a collection.json (whole or
    damaged); a folder without one is a first add that never finished. In a workspace, also the sample
    collections built in the shared folder (folder_of)."""
    own = _names_in(paths.knowledge_dir())
    if not paths.current_workspace():
        return own
    return sorted({*own, *(n for n in _names_in(paths.shared_knowledge_dir()) if n in SAMPLE_FILES)})


def folder_of(name: str) -> Path:
    """Where collection `name` lives: the workspace's own folder, or, for a sample collection the workspace has no
    collection of that name of its own, the shared one every visitor reads (and none may change: shared_sample)."""
    name = check_name(name)
    own = paths.inside(paths.knowledge_dir(), name)
    if name in SAMPLE_FILES and paths.current_workspace() and not own.exists():
        return paths.inside(paths.shared_knowledge_dir(), name)
    return own


def shared_sample(name: str) -> bool:
    """Collection `name`, seen from the workspace the request runs in, is the shared read-only sample."""
    return bool(paths.current_workspace()) and folder_of(name) != paths.inside(paths.knowledge_dir(), check_name(name))


def missing(name: str) -> KnowledgeError:
    return KnowledgeError(f"No collection named {name!r}. Existing: {', '.join(names()) or 'none'}")


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_PATTERN.fullmatch(name):
        raise KnowledgeError(f"{name!r} is not a valid collection name: use 1-64 letters, digits, '_', '-' or '.', "
                             "starting with a letter or digit")
    paths.inside(paths.knowledge_dir(), name)
    return name
