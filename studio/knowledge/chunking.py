"""Text cut into chunks of a bounded size that overlap a little: the recursive character splitting of LangChain's
RecursiveCharacterTextSplitter (the same chunks, checked against it in tests/test_documents.py), written here so
the knowledge layer does not import LangChain. Collections were measured with these chunks (knowledge/store.py).
"""

from __future__ import annotations

SEPARATORS = ("\n\n", "\n", " ", "")
"""Where text is cut, coarsest first: paragraphs, lines, words, anywhere."""


def split_text(text: str, size: int, overlap: int, separators: tuple[str, ...] = SEPARATORS) -> list[str]:
    """Chunks of at most `size` characters where the text allows: cut at the coarsest separator it holds (each piece
    keeps the separator it starts with), a piece still too long cut again at the next finer one; neighbouring
    pieces packed together up to `size`, each chunk starting with up to `overlap` characters of the one before."""
    at = next(i for i, sep in enumerate(separators) if not sep or sep in text)
    sep = separators[at]
    finer = separators[at + 1:] if sep else ()
    pieces = [p for p in _cut(text, sep) if p]
    chunks, short = [], []
    for piece in pieces:
        if len(piece) < size:
            short.append(piece)
            continue
        chunks += _pack(short, size, overlap)
        short = []
        chunks += split_text(piece, size, overlap, finer) if finer else [piece]
    return chunks + _pack(short, size, overlap)


def _cut(text: str, sep: str) -> list[str]:
    if not sep:
        return list(text)
    first, *rest = text.split(sep)
    return [first] + [sep + part for part in rest]


def _pack(pieces: list[str], size: int, overlap: int) -> list[str]:
    """Consecutive pieces joined into chunks of at most `size` characters (a single longer piece stays whole);
    a new chunk keeps the previous chunk's last pieces while they fit in `overlap`."""
    chunks, current, length = [], [], 0
    for piece in pieces:
        if current and length + len(piece) > size:
            chunks.append("".join(current).strip())
            while length > overlap or (length + len(piece) > size and length > 0):
                length -= len(current.pop(0))
        current.append(piece)
        length += len(piece)
    chunks.append("".join(current).strip())
    return [chunk for chunk in chunks if chunk]
