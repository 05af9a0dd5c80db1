"""A collection folder's files: how they are written so that a crash leaves the old collection or the new one, checked
when read, and removed (studio/knowledge/collection.py says what is in them).

studio.core.paths.knowledge_dir()/<name>/ holds
  collection.json       files (name, sha256, bytes, passages), embedding model, chunk sizes, the generation, and
                        `stored`: the current passages and dense files with their bytes, sha256 and counts
  passages.<g>.jsonl    one passage per line
  dense.<g>.faiss       the passages' vectors
  originals/<sha256>/<file>   each added file's bytes: what store.rebuild indexes again and cited pages open from

A save never touches a file that collection.json names. It writes the originals, then generation g+1's passages and
dense files, then collection.json naming them (each to a temporary file, fsynced, renamed into place), and only then
removes the old generation and whatever collection.json no longer names. collection.json is the completion mark: a
kill at any step leaves the old collection or the new one, plus files the next save removes; a folder without
collection.json is a first add that never finished and is not a collection. Reading checks each named file's bytes
and sha256 against collection.json, so a file removed, cut short or edited raises DamagedCollection with the reason.
Collections saved before generations (passages.jsonl, dense.faiss, no checksums, no originals) are read as before
and move to generations at their next save. A deleted collection's folder is first renamed out of sight
(.deleting-<name>-<random>), then removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

META, ORIGINALS = "collection.json", "originals"
LEGACY = {"passages": "passages.jsonl", "dense": "dense.faiss"}
"""The data files of collections saved before generations."""
TMP_PREFIX, TRASH_PREFIX = ".tmp-", ".deleting-"
OURS = re.compile(r"(passages(\.\d+)?\.jsonl|dense(\.\d+)?\.faiss|collection\.json)(\.\w+)?|\.tmp-.*")
"""The files a save writes in a collection folder, with temporary files (older versions named theirs
"<file>.<random>"); other files there (a held-out test file) are left alone."""
GENERATION = re.compile(r"(?:passages|dense)\.(\d+)\.(?:jsonl|faiss)")
SHA256 = re.compile(r"[0-9a-f]{64}")


class KnowledgeError(Exception):
    """A collection request that cannot be carried out; nothing was changed, and the message says why."""


class DamagedCollection(KnowledgeError):
    """A collection whose files on disk do not make a whole collection; `reason` says what is wrong."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(f"Collection {name!r} is damaged: {reason}. Delete it, or rebuild it from its stored files "
                         f"(python -m studio knowledge rebuild {name})")


def read_meta(folder: Path) -> dict:
    """A collection folder's collection.json, checked for what loading needs."""
    def damaged(reason: str) -> DamagedCollection:
        return DamagedCollection(folder.name, reason)

    try:
        text = (folder / META).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise damaged("collection.json is missing") from None
    except (OSError, ValueError) as e:
        raise damaged(f"collection.json cannot be read ({e})") from None
    if not text.strip():
        raise damaged("collection.json is empty")
    try:
        meta = json.loads(text)
    except ValueError as e:
        raise damaged(f"collection.json is not valid JSON ({e})") from None
    files = meta.get("files") if isinstance(meta, dict) else None
    if not (isinstance(files, dict) and isinstance(meta.get("next_id"), int)
            and all(isinstance(info, dict) and isinstance(info.get("passages"), int) for info in files.values())):
        raise damaged("collection.json lacks its list of files")
    return meta


def read_stored(folder: Path, meta: dict) -> dict[str, tuple[str, bytes]]:
    """"passages" and "dense" -> (file name, bytes) of the files collection.json names, each checked against it."""
    stored = meta.get("stored", {part: {"file": file} for part, file in LEGACY.items()})
    found = {}
    for part in ("passages", "dense"):
        entry = stored.get(part) if isinstance(stored, dict) else None
        file = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(file, str) or not OURS.fullmatch(file) or file == META:
            raise DamagedCollection(folder.name, f"collection.json does not name its {part} file")
        try:
            data = (folder / file).read_bytes()
        except FileNotFoundError:
            raise DamagedCollection(folder.name, f"{file} is missing") from None
        except OSError as e:
            raise DamagedCollection(folder.name, f"{file} cannot be read ({e.strerror})") from None
        if "bytes" in entry and len(data) != entry["bytes"]:
            raise DamagedCollection(folder.name, f"{file} is {len(data)} bytes where collection.json says "
                                                 f"{entry['bytes']}: it was cut short or changed")
        if "sha256" in entry and hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise DamagedCollection(folder.name, f"{file} does not match its sha256 in collection.json: it was "
                                                 "changed")
        found[part] = (file, data)
    return found


def save(folder: Path, meta: dict, passages: bytes, passage_count: int, dense: bytes, vector_count: int) -> dict:
    """Write the next generation of a collection, then its collection.json (`meta` with `generation` and `stored`
    added, returned), then remove what that collection.json no longer names. The originals of files `meta` lists
    must already be stored."""
    folder.mkdir(parents=True, exist_ok=True)
    generation = 1 + max((int(m[1]) for p in folder.iterdir() if (m := GENERATION.fullmatch(p.name))), default=0)
    stored = {}
    for part, file, data, count in (("passages", f"passages.{generation}.jsonl", passages, passage_count),
                                    ("dense", f"dense.{generation}.faiss", dense, vector_count)):
        size, digest = _write_atomic(folder / file, [data])
        stored[part] = {"file": file, "bytes": size, "sha256": digest, "count": count}
    meta = {**meta, "generation": generation, "stored": stored}
    _write_atomic(folder / META, [json.dumps(meta, indent=2).encode()])
    _fsync_folder(folder.parent)  # a new collection's own folder entry
    _remove_unreferenced(folder, meta)
    return meta


def _remove_unreferenced(folder: Path, meta: dict) -> None:
    keep = {META} | {entry["file"] for entry in meta["stored"].values()}
    for path in folder.iterdir():
        if path.is_file() and path.name not in keep and OURS.fullmatch(path.name):
            path.unlink(missing_ok=True)
    wanted = {info.get("sha256"): file for file, info in meta["files"].items()}
    for entry in (folder / ORIGINALS).iterdir() if (folder / ORIGINALS).is_dir() else []:
        if entry.name not in wanted or not entry.is_dir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        else:
            for path in entry.iterdir():
                if path.name != wanted[entry.name]:
                    path.unlink()


def store_original(folder: Path, source: Path, sha256: str) -> None:
    """Keep a copy of `source` as originals/<sha256>/<its name>, refused if it changed since it was read."""
    target = folder / ORIGINALS / sha256 / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as f:
        _write_atomic(target, iter(lambda: f.read(1 << 20), b""), sha256)
    _fsync_folder(target.parent.parent)


def link_originals(source: Path, target: Path, files: dict[str, dict]) -> None:
    """Give collection folder `target` the stored originals of `files` that collection folder `source` has: hard
    links where the file system allows them, else copies."""
    for file in files:
        kept = original(source, {"files": files}, file)
        if kept is None:
            continue
        folder = target / ORIGINALS / kept.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{TMP_PREFIX}{secrets.token_hex(4)}"
        try:
            os.link(kept, tmp)
        except OSError:
            shutil.copy2(kept, tmp)
        os.replace(tmp, folder / file)


def original(folder: Path, meta: dict, file: str) -> Path | None:
    """The stored original of `file`, a name `meta` lists (KnowledgeError for anything else: a path is never
    followed), when it is there and whole; None for a file added before originals were kept."""
    info = meta["files"].get(file) if isinstance(file, str) else None
    if info is None:
        raise KnowledgeError(f"{file!r} is not in collection {folder.name!r}; it has: "
                             f"{', '.join(meta['files']) or 'no files'}")
    digest = info.get("sha256")
    if not isinstance(digest, str) or not SHA256.fullmatch(digest) or Path(file).name != file or file in (".", ".."):
        return None
    path = folder / ORIGINALS / digest / file
    return path if path.is_file() and path.stat().st_size == info.get("bytes") else None


def stored_originals(folder: Path, meta: dict | None) -> dict[str, Path]:
    """file name -> its stored original, checked by sha256, for every file `meta` lists; KnowledgeError names the
    files without one. Without `meta` (collection.json unreadable): every stored original, the newest when a name
    was stored twice."""
    found: dict[str, Path] = {}
    if meta is None:
        for path in sorted(folder.glob(f"{ORIGINALS}/*/*"), key=lambda p: p.stat().st_mtime_ns):
            if not path.name.startswith(TMP_PREFIX) and _sha256_of(path) == path.parent.name:
                found[path.name] = path
        if not found:
            raise KnowledgeError(f"{folder.name!r} has no stored copies of its files to rebuild from: delete it and "
                                 "add its files again")
        return found
    lost = []
    for file in meta["files"]:
        path = original(folder, meta, file)
        if path and _sha256_of(path) == meta["files"][file]["sha256"]:
            found[file] = path
        else:
            lost.append(file)
    if lost:
        raise KnowledgeError(f"{folder.name!r} has no stored copy of {', '.join(lost)} (added before copies were "
                             "kept, or removed): nothing was changed; delete the collection and add its files again")
    return found


def remove_folder(folder: Path) -> None:
    """Rename a collection's folder out of sight, then remove it: a kill part-way leaves no half collection, only a
    hidden folder that remove_leftovers clears."""
    trash = folder.parent / f"{TRASH_PREFIX}{folder.name}-{secrets.token_hex(4)}"
    os.rename(folder, trash)
    _fsync_folder(folder.parent)
    shutil.rmtree(trash, ignore_errors=True)


def remove_leftovers(root: Path) -> None:
    """Folders in `root` that a deletion renamed out of sight but did not finish removing."""
    for path in root.iterdir() if root.is_dir() else []:
        if path.name.startswith(TRASH_PREFIX):
            shutil.rmtree(path, ignore_errors=True)


def _write_atomic(path: Path, blocks: Iterable[bytes], sha256: str = "") -> tuple[int, str]:
    """Write `blocks` to a temporary file beside `path`, fsync it, rename it over `path` and fsync the folder: a
    kill leaves the old file or the new one (and maybe a .tmp- file the next save removes); a power cut too. With
    `sha256`, refused unless the bytes have that digest. Returns (bytes, sha256) of what was written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX)
    digest, size = hashlib.sha256(), 0
    with os.fdopen(fd, "wb") as f:
        for block in blocks:
            f.write(block)
            digest.update(block)
            size += len(block)
        f.flush()
        os.fsync(f.fileno())
    if sha256 and digest.hexdigest() != sha256:
        os.unlink(tmp)
        raise KnowledgeError(f"{path.name} changed while it was being added; add it again")
    os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
    os.replace(tmp, path)
    _fsync_folder(path.parent)
    return size, digest.hexdigest()


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
