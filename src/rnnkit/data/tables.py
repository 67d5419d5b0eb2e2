"""Numeric tables from CSV files: `read_csv` and the `Table` it returns.

Real CSV exports are messy: headers with stray spaces (" Volume"), numbers with thousands
separators ("7,380,500", quoted), US dates ("1/3/2017") beside ISO ones. `read_csv` reads these
as they are and refuses everything else with an error naming the file, the line and the column,
so that a gap or a typo is found in the file, not in a NaN loss ten epochs later.
"""
from __future__ import annotations

import collections
import csv
import datetime
import difflib
import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..files import write_text_atomically

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["Table", "read_csv", "write_csv"]

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_NON_FINITE_WORDS = re.compile(r"[+-]?(inf|infinity|nan)", re.IGNORECASE)
# The largest magnitude read: float32's largest value. Beyond it a cell would become inf in training.
MAX_MAGNITUDE = float(np.finfo(np.float32).max)
# Tried in order on the first cell of a time column; every cell must then parse with the same one.
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
)
_DATE_EXAMPLES = "2017-01-03, 2017-01-03 09:30[:00], 2017-01-03T09:30[:00], 2017/01/03, 1/3/2017 [09:30[:00]]"


class Table:
    """Named numeric columns of equal length, in time order, with an optional time column.

    Args:
        columns: a dict of column name -> 1-D sequence of numbers (all the same length).
        time: the time of each row (a 1-D array of `datetime64` or numbers), or None.
        time_column: the name of the time column, if any.
        source: where the table came from, for error messages (a file name or "<array>").

    Example:
        >>> table = Table({"temperature": [11.0, 12.5, 12.0], "humidity": [80.0, 75.0, 78.0]})
        >>> table.values(["humidity", "temperature"]).shape
        (3, 2)
    """

    def __init__(
        self, columns: Mapping[str, npt.ArrayLike], time: npt.ArrayLike | None = None, time_column: str | None = None,
        source: str = "<array>",
    ) -> None:
        if not columns:
            raise ValueError(f"a table needs at least one column; {source} has none.")
        self.columns = {}
        for name, values in columns.items():
            check_real(values, f"column {name!r} of {source}")
            values = np.asarray(values, dtype=np.float64)
            if values.ndim != 1:
                raise ValueError(f"column {name!r} of {source} must be 1-D, got shape {values.shape}.")
            self.columns[str(name)] = values
        lengths = {name: len(values) for name, values in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"the columns of {source} differ in length: {lengths}.")
        if time is not None:
            time = np.asarray(time)
            if time.shape != (len(self),):
                raise ValueError(f"the time column of {source} has {time.shape} values for {len(self)} rows.")
        self.time = time
        self.time_column = time_column
        self.source = source

    @classmethod
    def from_array(
        cls, array: npt.ArrayLike, names: Sequence[str] | None = None, time: npt.ArrayLike | None = None
    ) -> Table:
        """A table of the columns of `array` (1-D: one column; 2-D: rows x columns), named `names`
        (default "value" for a 1-D array, "0", "1", ... for the columns of a 2-D one)."""
        check_real(array, "the array")
        array = np.asarray(array, dtype=np.float64)
        if array.ndim == 1:
            array = array[:, None]
            names = ["value"] if names is None else names
        if array.ndim != 2:
            raise ValueError(f"expected a 1-D series or a 2-D (time, columns) array, got shape {array.shape}.")
        names = [str(i) for i in range(array.shape[1])] if names is None else [str(n) for n in names]
        if len(names) != array.shape[1]:
            raise ValueError(f"got {len(names)} names for {array.shape[1]} columns.")
        if not np.all(np.isfinite(array)):
            row, column = np.argwhere(~np.isfinite(array))[0]
            raise ValueError(f"the array holds a non-finite value ({array[row, column]}) at row {row}, "
                             f"column {names[column]!r}; fill or drop the gap first.")
        return cls(dict(zip(names, array.T)), time=time)

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return list(self.columns)

    def __len__(self):
        return len(next(iter(self.columns.values())))

    def __getitem__(self, name):
        self.require([name])
        return self.columns[name]

    def require(self, names: Sequence[str]) -> None:
        """Raises a ValueError naming the columns of `names` the table lacks, and those it has."""
        missing = [name for name in names if name not in self.columns]
        if missing:
            raise ValueError(_missing_columns_message(missing, self.names, self.source))

    def values(self, names: Sequence[str]) -> np.ndarray:
        """The columns `names` side by side: a float64 array (rows, len(names))."""
        self.require(names)
        return np.stack([self.columns[name] for name in names], axis=1)

    def rows(self, selection: slice | npt.ArrayLike) -> Table:
        """A new table of the rows `selection` (a slice, or an array of indices or booleans)."""
        time = None if self.time is None else self.time[selection]
        return Table({name: values[selection] for name, values in self.columns.items()}, time=time,
                     time_column=self.time_column, source=self.source)

    def __repr__(self):
        return f"Table({len(self)} rows, columns={self.names}, time_column={self.time_column!r})"


def check_real(values: npt.ArrayLike, what: str) -> None:
    """Raises ValueError naming `what` when `values` are complex: a cast to float would drop their
    imaginary parts silently (NumPy only warns)."""
    if np.iscomplexobj(values):
        raise ValueError(f"{what} holds complex numbers; give real ones (the imaginary parts would be dropped).")


def read_csv(
    path: str | os.PathLike, columns: Sequence[str] | None = None, time_column: str | None = None, delimiter: str = ","
) -> Table:
    """Reads numeric columns of a CSV file with a header row.

    Header names are stripped of surrounding spaces. Numbers may carry thousands separators
    ("7,380,500", quoted as CSV requires). The time column is parsed as numbers or as dates (ISO
    "2017-01-03", with an optional time, or US "1/3/2017") and must increase from row to row.
    Blank lines are skipped; lines may end in LF, CRLF or (old Mac files) CR alone.

    Args:
        path: the CSV file (UTF-8, with or without a byte-order mark).
        columns: the names of the numeric columns to read; default every column except the time
            column (then every one of them must be numeric).
        time_column: the name of the time column, or None.
        delimiter: the field separator.

    Returns:
        A `Table` (source = the path).

    Raises:
        ValueError: the file is empty, not UTF-8 (or holds NUL bytes), has no data rows, lacks a
            requested column, or a cell is empty (a gap), not a number, or beyond float32's range
            (MAX_MAGNITUDE, "too large"); the message names the file, the line and the column.

    Example:
        >>> table = read_csv("google_stock_train.csv", columns=["Open", "Volume"], time_column="Date")
        >>> table["Volume"][0]
        7380500.0
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            text = file.read()
    except UnicodeDecodeError as error:
        utf16 = " It starts with a UTF-16 byte-order mark." if error.object[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ValueError(
            f"{path} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start}); "
            f"save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).{utf16}"
        ) from None
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise ValueError(f"{path}, line {line}: a NUL byte; the file is binary or in another encoding (UTF-16?), "
                         "not UTF-8 text.")
    if "\r" in text and "\n" not in text:  # old Mac line ends, which the csv module takes for a broken field
        text = text.replace("\r", "\n")
    rows = _numbered_rows(text, delimiter)
    try:
        header_line, header = next(rows)
    except StopIteration:
        raise ValueError(f"{path} is empty: expected a header row of column names, then rows of numbers.") from None
    except csv.Error as error:
        raise ValueError(f"{path}: not a readable CSV file ({error}).") from None
    header = [name.strip() for name in header]
    _check_header(header, header_line, path)
    if time_column is not None and time_column not in header:
        raise ValueError(_missing_columns_message([time_column], header, path, what="time column"))
    columns = [name for name in header if name != time_column] if columns is None else list(columns)
    if not columns:
        raise ValueError(f"{path}: no numeric columns to read (the header has only {header}).")
    missing = [name for name in columns if name not in header]
    if missing:
        raise ValueError(_missing_columns_message(missing, header, path))
    positions = {name: header.index(name) for name in columns}
    time_position = header.index(time_column) if time_column is not None else None
    numbers = {name: [] for name in columns}
    times, time_lines = [], []
    try:
        for line, row in rows:
            if len(row) > len(header):
                raise ValueError(f"{path}, line {line}: {len(row)} fields, but the header has {len(header)}; "
                                 "check for an unquoted comma.")
            for name, position in positions.items():
                cell = row[position] if position < len(row) else ""
                numbers[name].append(_parse_number(cell, path, line, name))
            if time_position is not None:
                times.append(row[time_position].strip() if time_position < len(row) else "")
                time_lines.append(line)
    except csv.Error as error:
        raise ValueError(f"{path}: not a readable CSV file ({error}).") from None
    if not numbers[columns[0]]:
        raise ValueError(f"{path} has a header but no data rows.")
    time = _parse_times(times, time_lines, path, time_column) if time_column is not None else None
    return Table(numbers, time=time, time_column=time_column, source=path)


def write_csv(
    path: str | os.PathLike, columns: Mapping[str, npt.ArrayLike], time: npt.ArrayLike | None = None,
    time_column: str = "time",
) -> str | os.PathLike:
    """Writes columns of numbers (a dict name -> 1-D array), after an optional time column, to a
    CSV file, atomically; dates are written in ISO format. Returns the path."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = list(columns)
    writer.writerow(([time_column] if time is not None else []) + names)
    for row in range(len(next(iter(columns.values())))):
        cells = [repr(float(columns[name][row])) for name in names]
        writer.writerow(([_format_time(time[row])] if time is not None else []) + cells)
    write_text_atomically(path, buffer.getvalue())
    return path


def _numbered_rows(text, delimiter):
    """(line number, fields) of each non-blank row; the line number is that of the row's last line,
    which is its only line unless a quoted cell spans several."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def _check_header(header, line, path):
    empty = [i + 1 for i, name in enumerate(header) if not name]
    if empty:
        raise ValueError(f"{path}, line {line}: the header has no name for column {empty[0]}; "
                         "give every column a name.")
    repeated = sorted(name for name, count in collections.Counter(header).items() if count > 1)
    if repeated:
        shown = repeated[:5] + (["..."] if len(repeated) > 5 else [])
        raise ValueError(f"{path}, line {line}: the header repeats the column names {shown}; "
                         "names must be distinct.")


def _missing_columns_message(missing, available, source, what="column"):
    close = {name: difflib.get_close_matches(name, available, n=1) for name in missing}
    hints = [f"{name!r} (did you mean {close[name][0]!r}?)" if close[name] else repr(name) for name in missing]
    plural = "s" if len(missing) > 1 else ""
    return (f"{what}{plural} {', '.join(hints)} not found in {source}; "
            f"available columns: {', '.join(map(repr, available))}.")


def _parse_number(cell, path, line, column):
    text = cell.strip()
    if not text:
        raise ValueError(f"{path}, line {line}, column {column!r}: empty cell (a gap in the data); "
                         "fill it in or remove the row.")
    if "," in text and _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}, line {line}, column {column!r}: {_excerpt(cell)} is not a number.") from None
    if math.isnan(value) or (math.isinf(value) and _NON_FINITE_WORDS.fullmatch(text)):
        raise ValueError(f"{path}, line {line}, column {column!r}: {cell!r} is a missing value (a gap in the "
                         "data); fill it in or remove the row.")
    if not abs(value) <= MAX_MAGNITUDE:
        raise ValueError(f"{path}, line {line}, column {column!r}: {_excerpt(cell)} is too large; rnnkit computes in "
                         f"float32, whose values stay within +-{MAX_MAGNITUDE:.1e}: rescale the column.")
    return value


def _parse_times(cells, lines, path, column):
    """Numbers if every cell is one, otherwise dates in the first of `_DATE_FORMATS` the first cell
    fits; then checks that time increases."""
    for cell, line in zip(cells, lines):
        if not cell:
            raise ValueError(f"{path}, line {line}, time column {column!r}: empty cell; every row needs a time.")
    try:
        times = np.array([float(cell) for cell in cells])
    except ValueError:
        times = _parse_dates(cells, lines, path, column)
    else:
        # NaN compares false with its neighbours, so it would pass the order check below; a time
        # near float64's limit passes it too, and then breaks the plots' axes after training.
        beyond = np.flatnonzero(~(np.abs(times) <= MAX_MAGNITUDE))
        if beyond.size:
            i = int(beyond[0])
            raise ValueError(f"{path}, line {lines[i]}, time column {column!r}: {_excerpt(cells[i])} is not a time; "
                             f"numeric times must be finite and within +-{MAX_MAGNITUDE:.1e}.")
    if len(times) > 1:
        not_later = np.diff(times) <= np.zeros((), np.diff(times).dtype)
        if np.any(not_later):
            i = int(np.argmax(not_later))
            raise ValueError(
                f"{path}, time column {column!r}: line {lines[i + 1]} ({cells[i + 1]}) does not come after "
                f"line {lines[i]} ({cells[i]}); sort the rows by time and remove duplicates."
            )
    return times


def _parse_dates(cells, lines, path, column):
    for pattern in _DATE_FORMATS:
        try:
            datetime.datetime.strptime(cells[0], pattern)
        except ValueError:
            continue
        break
    else:
        raise ValueError(f"{path}, line {lines[0]}, time column {column!r}: {cells[0]!r} is not a number or a "
                         f"date in a known format ({_DATE_EXAMPLES}).")
    parsed = []
    for cell, line in zip(cells, lines):
        try:
            parsed.append(datetime.datetime.strptime(cell, pattern))
        except ValueError:
            raise ValueError(f"{path}, line {line}, time column {column!r}: {cell!r} does not match the date "
                             f"format of the first row ({cells[0]!r}, {pattern}).") from None
    has_clock = any(value.time() != datetime.time() for value in parsed)
    return np.array(parsed, dtype="datetime64[s]" if has_clock else "datetime64[D]")


def _excerpt(text):
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _format_time(value):
    if isinstance(value, np.datetime64):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return repr(float(value))
