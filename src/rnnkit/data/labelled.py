"""Labelled texts for classification, read from files in three forms:

    lines    "sentence<TAB>label" per line, no header (the UCI "Sentiment Labelled Sentences" files)
    csv      a comma-separated table with a header row, text and label chosen by column name
    tsv      the same, tab-separated

Labels are strings ("0", "positive", "sports"); they become class ids 0, 1, ... in sorted order
(numeric order when every label is an integer), and their names are kept for reports and for the
saved model.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["LabelledTexts", "read_labelled", "read_lines"]

FORMATS = ("auto", "lines", "csv", "tsv")
# Column names tried, in order, when no --text-col / --label-col is given (compared case-insensitively).
TEXT_COLUMNS = ("text", "sentence", "review", "content", "message", "comment", "document", "tweet")
LABEL_COLUMNS = ("label", "labels", "class", "category", "sentiment", "target", "y")


@dataclass
class LabelledTexts:
    """Texts with their class ids.

    Attributes:
        texts: the texts, a list of str.
        labels: int64 array of class ids, one per text.
        names: the class names; class id `i` is `names[i]`.
        sources: where each text was read ("reviews.txt line 12"), or None.
    """

    texts: list
    labels: np.ndarray
    names: list
    sources: list = None

    def __len__(self):
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        """The number of texts of each class, as a dict {name: count} in class id order."""
        counts = np.bincount(self.labels, minlength=len(self.names))
        return {name: int(count) for name, count in zip(self.names, counts)}

    def distinct(self) -> tuple[LabelledTexts, int]:
        """These texts without repetitions (the first of each text is kept, with its label), and the
        number dropped: the same sentence twice would otherwise land in training and test alike.

        Example:
            >>> data, dropped = read_labelled(["a.txt", "a.txt"]).distinct()   # dropped == len(data)
        """
        seen, keep = set(), []
        for index, text in enumerate(self.texts):
            if text not in seen:
                seen.add(text)
                keep.append(index)
        sources = None if self.sources is None else [self.sources[i] for i in keep]
        return (LabelledTexts([self.texts[i] for i in keep], self.labels[keep], self.names, sources),
                len(self.texts) - len(keep))


def read_labelled(
    paths: str | os.PathLike | Sequence[str | os.PathLike], text_col: str | None = None, label_col: str | None = None,
    format: str = "auto",
) -> LabelledTexts:
    """Reads labelled texts from one or more files and maps their labels to class ids.

    Args:
        paths: a file or a list of files; their rows are concatenated in order.
        text_col, label_col: for CSV/TSV files, the names of the text and label columns (matched
            case-insensitively); by default the first of common names ("text", "sentence",
            "review", ... and "label", "class", "sentiment", ...) found in the header.
        format: "auto" (by extension: .csv is CSV, .tsv is TSV, anything else "sentence<TAB>label"
            lines), "lines", "csv" or "tsv".

    Returns:
        A `LabelledTexts`; texts are stripped of surrounding whitespace, blank lines are skipped.

    Raises:
        ValueError: naming the file (and line) for an empty file, text that is not UTF-8, a line
            without a tab, an empty label, a missing column, a row without its cells, or data with
            fewer than two classes.
        OSError: when a file cannot be read.

    Example:
        >>> data = read_labelled(["amazon_cells_labelled.txt", "imdb_labelled.txt"])
        >>> len(data), data.names, data.counts()
        (2000, ['0', '1'], {'0': 1000, '1': 1000})
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(path) for path in paths]
    if not paths:
        raise ValueError("no data files given; pass at least one file of labelled texts.")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}.")
    texts, labels, sources = [], [], []
    for path in paths:
        kind = _format_of(path, format)
        if kind == "lines":
            if text_col is not None or label_col is not None:
                raise ValueError(
                    f"{path!r} is read as 'sentence<TAB>label' lines, which have no named columns; drop the "
                    "column options or pass format 'csv' or 'tsv' for a table with a header."
                )
            rows = _read_tab_lines(path)
        else:
            rows = _read_table(path, "," if kind == "csv" else "\t", text_col, label_col)
        for text, label, where in rows:
            texts.append(text)
            labels.append(label)
            sources.append(f"{path!r} {where}")
    names = sorted(set(labels), key=_label_order)
    if len(names) < 2:
        found = f"only the class {names[0]!r}" if names else "no class"
        raise ValueError(
            f"found {found} in {', '.join(map(repr, paths))}; a classifier needs texts of at least two classes."
        )
    ids = {name: index for index, name in enumerate(names)}
    return LabelledTexts(texts, np.array([ids[label] for label in labels], dtype=np.int64), names, sources)


def read_lines(path: str | os.PathLike) -> list[str]:
    """The non-blank lines of a UTF-8 text file, stripped: e.g. sentences to classify, one per line.

    Raises:
        ValueError: naming the file, when it holds no text or is not UTF-8 (with the byte offset
            and line of the first bad byte).
        OSError: when the file cannot be read.

    Example:
        >>> read_lines("reviews.txt")
        ['Loved it.', 'Never again.']
    """
    path = os.fspath(path)
    lines = [line.strip() for line in _lines(_read_text(path, "sentences, one per line"))]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError(f"{path!r} holds only blank lines; expected sentences, one per line.")
    return lines


def _format_of(path, format):
    if format != "auto":
        return format
    extension = os.path.splitext(path)[1].lower()
    return {".csv": "csv", ".tsv": "tsv"}.get(extension, "lines")


def _read_text(path, expected):
    with open(path, "rb") as file:
        data = file.read()
    if not data.strip():
        blank = "; it holds only spaces, tabs and line breaks" if data else ""
        raise ValueError(f"{path!r} is empty; expected {expected}{blank}.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError(f"{path!r} is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path!r} is not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start} (line {line}) "
            "cannot be decoded; save the file as UTF-8."
        ) from None
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise ValueError(f"{path!r} line {line} holds a NUL byte: it is binary or in another encoding (UTF-16?), "
                         "not UTF-8 text.")
    return text


def _lines(text):
    """The lines of `text`, ended by \\n or \\r\\n only: Unicode line and paragraph separators, form
    feeds and other characters that `str.splitlines` also breaks at stay inside the text."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _read_tab_lines(path):
    rows = []
    for number, line in enumerate(_lines(_read_text(path, "lines 'sentence<TAB>label'")), start=1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(
                f"{path!r} line {number} has no tab: expected 'sentence<TAB>label', got {_excerpt(line)}. "
                "For a CSV or TSV table with a header, pass format 'csv' or 'tsv'."
            )
        # The label follows the last tab, so a sentence may itself hold tabs.
        text, label = line.rsplit("\t", 1)
        rows.append((text.strip(), _label(label, path, f"line {number}"), f"line {number}"))
    return rows


def _read_table(path, delimiter, text_col, label_col):
    reader = csv.reader(io.StringIO(_read_text(path, "a table with a header row"), newline=""), delimiter=delimiter)
    try:
        return _table_rows(reader, path, delimiter, text_col, label_col)
    except csv.Error as error:
        raise ValueError(
            f"{path!r} line {reader.line_num} is not readable as a table ({error}); check for an unclosed quote."
        ) from None


def _table_rows(reader, path, delimiter, text_col, label_col):
    header = next((cells for cells in reader if any(cell.strip() for cell in cells)), None)
    if header is None:
        raise ValueError(f"{path!r} has no header row; expected a table with named text and label columns.")
    text_index = _column(header, text_col, TEXT_COLUMNS, "text", path)
    label_index = _column(header, label_col, LABEL_COLUMNS, "label", path)
    needed = max(text_index, label_index) + 1
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        where = f"line {reader.line_num}"
        if len(cells) < needed:
            raise ValueError(
                f"{path!r} {where} has {len(cells)} cells but the {header[text_index].strip()!r} and "
                f"{header[label_index].strip()!r} columns need {needed}: {_excerpt(delimiter.join(cells))}."
            )
        rows.append((cells[text_index].strip(), _label(cells[label_index], path, where), where))
    if not rows:
        raise ValueError(f"{path!r} has a header but no rows of data.")
    return rows


def _column(header, wanted, candidates, role, path):
    names = [name.strip().lower() for name in header]
    listing = ", ".join(repr(name.strip()) for name in header)
    if wanted is not None:
        if wanted.strip().lower() in names:
            return names.index(wanted.strip().lower())
        raise ValueError(f"{path!r} has no column {wanted!r}; its columns are {listing}.")
    for candidate in candidates:
        if candidate in names:
            return names.index(candidate)
    option = "--text-col" if role == "text" else "--label-col"
    raise ValueError(
        f"{path!r} has no {role} column named like {', '.join(candidates[:4])}...; its columns are {listing}. "
        f"Name the {role} column with {option} ({role}_col=)."
    )


def _label(label, path, where):
    label = label.strip()
    if not label:
        raise ValueError(f"{path!r} {where} has an empty label; every text needs a label.")
    return label


def _label_order(label):
    try:
        return (0, int(label), label)
    except ValueError:
        return (1, 0, label)


def _excerpt(text):
    return repr(text if len(text) <= 60 else text[:57] + "...")
