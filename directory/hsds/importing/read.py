"""Reading the files of an HSDS package: CSV in whatever encoding it has, JSON, datapackage.json.

A file that can't be read whole (broken JSON, a CSV row cut short or with a runaway quote, a
missing column the table can't do without) raises ImportFailed: the import stops before it
writes anything, with a message naming the file, the line and the problem.
"""

import codecs
import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from directory.hsds.importing.records import Origin, Package, Progress


class ImportFailed(Exception):
    """A problem that stops the whole import; nothing is written."""


class CsvRows:
    """The rows of a CSV file as (row number, {column: text}), read from the file a row at a
    time each time they are gone through: a 50 MB file is never held in memory whole."""

    def __init__(self, path: Path, codec: str, delimiter: str, columns: list[str]):
        self.path, self.codec, self.delimiter, self.columns = path, codec, delimiter, columns

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        rows = _raw_rows(self.path, self.codec, self.delimiter)
        next(rows, None)  # the header
        for line, raw in rows:
            yield line, _row(self.path.name, line, self.columns, raw)


@dataclass
class CsvTable:
    """One CSV file: normalized column names, its rows (`CsvRows`) and how many there are."""

    file: str
    columns: list[str]
    rows: Iterable[tuple[int, dict[str, str]]] = field(default_factory=list)
    encoding: str = "utf-8"
    count: int = 0


def decode(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str]:
    """Text and the encoding used: a declared encoding, a BOM, UTF-8, else Windows-1252."""
    if encoding:
        try:
            return data.decode(encoding.replace("utf-8", "utf-8-sig")), encoding.lower()
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration is common; fall back to looking at the bytes
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise ImportFailed(f"{name} starts like UTF-16 but is not: {exc}") from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


_CHUNK = 256 * 1024


def _decode_error(path: Path, codec: str) -> Exception | None:
    """Why the file is not text in `codec` (None when it is), read a chunk at a time."""
    try:
        decoder = codecs.getincrementaldecoder(codec)()
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except (LookupError, UnicodeDecodeError) as exc:
        return exc
    return None


def file_encoding(path: Path, encoding: str | None = None) -> tuple[str, str]:
    """(codec to open the file with, encoding to report): `decode`'s rules, without reading
    the file into memory."""
    if encoding and _decode_error(path, encoding.replace("utf-8", "utf-8-sig")) is None:
        return encoding.replace("utf-8", "utf-8-sig"), encoding.lower()
    with path.open("rb") as stream:
        start = stream.read(2)
    if start in (b"\xff\xfe", b"\xfe\xff"):
        error = _decode_error(path, "utf-16")
        if error is not None:
            raise ImportFailed(f"{path.name} starts like UTF-16 but is not: {error}")
        return "utf-16", "utf-16"
    for codec, used in (("utf-8-sig", "utf-8"), ("cp1252", "cp1252")):
        if _decode_error(path, codec) is None:
            return codec, used
    return "latin-1", "latin-1"


def normalize_column(name: str) -> str:
    """ "Organization ID " -> "organization_id"; header names as exports spell them."""
    name = name.replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-./]+", "_", name).strip("_")


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _excel_separator(line: str) -> str | None:
    """The delimiter Excel's "sep=;" first line names, None for any other line."""
    text = line.strip()
    return text[4] if text.lower().startswith("sep=") and len(text) == 5 else None


def _lines(stream: Iterable[str]) -> Iterator[str]:
    """The file's lines, its "sep=;" line blanked (so row numbers stay the file's)."""
    first = True
    for line in stream:
        if first and line.strip("\r\n"):
            first = False
            if _excel_separator(line):
                yield "\n"
                continue
        yield line


def _raw_rows(path: Path, codec: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each row that is not blank, or ImportFailed at a broken line."""
    name = path.name
    with path.open(encoding=codec, newline="") as stream:
        reader = csv.reader(_lines(stream), delimiter=delimiter, strict=True)
        try:
            line = reader.line_num + 1
            for raw in reader:
                start, line = line, reader.line_num + 1
                if any(cell.strip() for cell in raw):  # not blank lines, nor rows of empty
                    yield start, raw  # cells that spreadsheets leave behind
        except csv.Error as exc:
            raise ImportFailed(
                f"{name} line {reader.line_num}: the CSV is malformed ({exc}); "
                "a quote may be missing or the file cut short"
            ) from None


def read_csv(
    path: Path, *, encoding: str | None = None, required: tuple[str, ...] = ()
) -> CsvTable:
    """Check a CSV file through, a row at a time, or raise ImportFailed saying which line is
    broken and how; the table's rows are read again from the file when they are used."""
    name = path.name
    empty = f"{name} is empty: not even a header row (was the file cut short?)"
    try:
        codec, used = file_encoding(path, encoding)
        with path.open(encoding=codec, newline="") as stream:
            first_line = next((line for line in stream if line.strip("\r\n")), "")
        if not first_line.strip():
            raise ImportFailed(empty)
        delimiter = _excel_separator(first_line) or _sniff_delimiter(first_line.rstrip("\r\n"))
        rows = _raw_rows(path, codec, delimiter)
        header = next(rows, None)
        if header is None:  # only blank lines
            raise ImportFailed(empty)
        table = _header(name, header[1], used, required)
        for line, raw in rows:
            _row(name, line, table.columns, raw)
            table.count += 1
    except OSError as exc:
        raise ImportFailed(f"can't read {name}: {exc.strerror}") from None
    table.rows = CsvRows(path, codec, delimiter, table.columns)
    return table


def _header(name: str, raw: list[str], encoding: str, required: tuple[str, ...]) -> CsvTable:
    columns = [normalize_column(c) for c in raw]
    while columns and not columns[-1]:
        columns.pop()
    seen: set[str] = set()
    for index, column in enumerate(columns):
        if column in seen:
            columns[index] = f"{column}__duplicate_{index}"  # keep the first; ignore the copy
        seen.add(column)
    missing = [c for c in required if c not in seen]
    if missing:
        raise ImportFailed(
            f"{name} has no {', '.join(repr(m) for m in missing)} column "
            f"(its columns are: {', '.join(c for c in columns if c)})"
        )
    return CsvTable(file=name, columns=columns, encoding=encoding)


def _row(name: str, line: int, columns: list[str], raw: list[str]) -> dict[str, str]:
    if len(raw) > len(columns):
        raise ImportFailed(
            f"{name} row {line} has {len(raw)} fields but the header has {len(columns)}: "
            "a quote is probably missing or a field holds an unquoted comma"
        )
    if len(raw) < len(columns):
        raise ImportFailed(
            f"{name} row {line} has {len(raw)} fields but the header has {len(columns)}: "
            "the row is cut short (a truncated file?)"
        )
    return {column: raw[i] for i, column in enumerate(columns) if column}


DEFAULT_MAX_JSON_BYTES = 256 * 1024 * 1024


def size_text(size: int) -> str:
    """2147483648 -> "2 GB", 10485760 -> "10 MB", for messages about sizes."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def read_json(path: Path, max_bytes: int = DEFAULT_MAX_JSON_BYTES) -> Any:
    """Parse a JSON (or NDJSON) file whole, or raise ImportFailed with line and column.

    Imports use this for JSON whose top level is an object (one object, an API page, tabular
    JSON): it is parsed whole, its objects taking about ten times its size in memory, so one
    bigger than `max_bytes` (IMPORT_MAX_JSON_BYTES) is refused. Arrays and NDJSON are streamed
    instead (`iter_json_items`)."""
    name = path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ImportFailed(
                f"{name} is {size_text(size)}: JSON files are capped at {size_text(max_bytes)} "
                "(IMPORT_MAX_JSON_BYTES), as they are read whole; import the package as CSV"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFailed(f"can't read {name}: {exc.strerror}") from None
    text, _ = decode(data, name)
    if not text.strip():
        raise ImportFailed(f"{name} is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            lines = _ndjson(text)
            if lines is not None:
                return lines
        raise ImportFailed(
            f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "is the file complete?"
        ) from None


def _ndjson(text: str) -> list | None:
    items = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError:
            return None
    return items


_JSON_CHUNK = 1024 * 1024
_NOT_SPACE = re.compile(r"[^ \t\n\r]")
_JSON = json.JSONDecoder()


class _JsonText:
    """A JSON file's text read a chunk at a time: values are parsed from a buffer that drops
    the text already parsed, and errors still name the file's line and column."""

    def __init__(self, name: str, stream: Any, chunk_size: int):
        self.name, self.stream, self.chunk_size = name, stream, chunk_size
        self.buffer, self.pos, self.eof = "", 0, False
        self.lines, self.column = 0, 0  # newlines dropped; characters after the last of them

    def more(self, size: int) -> bool:
        """Drop the parsed text and read up to `size` more characters; False at the end."""
        if self.eof:
            return False
        chunk = self.stream.read(size)
        dropped = self.buffer[: self.pos]
        newlines = dropped.count("\n")
        if newlines:
            self.lines += newlines
            self.column = len(dropped) - dropped.rfind("\n") - 1
        else:
            self.column += len(dropped)
        self.buffer, self.pos = self.buffer[self.pos :] + chunk, 0
        self.eof = not chunk
        return bool(chunk)

    def next_char(self) -> str:
        """The next character that is not whitespace ("" at the end); `pos` is moved to it."""
        while True:
            found = _NOT_SPACE.search(self.buffer, self.pos)
            if found:
                self.pos = found.start()
                return self.buffer[self.pos]
            self.pos = len(self.buffer)
            if not self.more(self.chunk_size):
                return ""

    def value(self) -> Any:
        """The JSON value at `pos`, reading on while it is cut off by the buffer's end (each
        read twice the last, so a big value is not parsed again a chunk at a time)."""
        size = self.chunk_size
        self.next_char()  # raw_decode takes no whitespace before the value
        while True:
            try:
                value, end = _JSON.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                near_end = exc.pos >= len(self.buffer) - 16  # "tru", "1e", "\\u12", "[1,"
                cut_off = near_end or exc.msg.startswith("Unterminated string")
                into = exc.pos - self.pos  # more() drops the text before the value, even at the end
                if cut_off and self.more(size):
                    size *= 2
                    continue
                raise self.failed(self.pos + into, exc.msg) from None
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and end >= len(self.buffer) - 16 and self.more(size):  # "-6." "5e3"?
                size *= 2
                continue
            self.pos = end
            return value

    def failed(self, at: int, message: str) -> ImportFailed:
        newlines = self.buffer.count("\n", 0, at)
        line = self.lines + newlines + 1
        column = at - self.buffer.rfind("\n", 0, at) if newlines else self.column + at + 1
        return ImportFailed(
            f"{self.name} is not valid JSON (line {line}, column {column}: {message}); "
            "is the file complete?"
        )


def iter_json_items(
    path: Path, *, chunk_size: int = _JSON_CHUNK, codec: str | None = None
) -> Iterator[Any]:
    """The items of a JSON file whose top level is an array, or of an NDJSON file (one value a
    line), parsed one at a time from the file: it is never held in memory whole. A broken or
    cut-short file raises ImportFailed with the line and column, when the iteration reaches it."""
    name = path.name
    try:
        codec = codec or file_encoding(path)[0]
        with path.open(encoding=codec, newline="") as stream:
            text = _JsonText(name, stream, chunk_size)
            if text.next_char() != "[":
                while text.next_char():
                    yield text.value()
                return
            text.pos += 1
            if text.next_char() == "]":
                text.pos += 1
            else:
                while True:
                    yield text.value()
                    after = text.next_char()
                    text.pos += 1
                    if after == "]":
                        break
                    if after != ",":
                        raise text.failed(text.pos - 1, "Expecting ',' delimiter")
            if text.next_char():
                raise text.failed(text.pos, "Extra data")
    except OSError as exc:
        raise ImportFailed(f"can't read {name}: {exc.strerror}") from None


def json_streams(path: Path, codec: str | None = None, peek: int = 8 * 1024 * 1024) -> bool:
    """Whether the file's items can be streamed: its top level is an array, or it is NDJSON (a
    first line that is a whole JSON value, and more after it). Other JSON is read whole."""
    try:
        codec = codec or file_encoding(path)[0]
        with path.open(encoding=codec) as stream:
            first = ""
            while not first.strip():
                first = stream.readline(peek)
                if not first:
                    return False
            if first.lstrip().startswith("["):
                return True
            if not first.lstrip().startswith("{") or not first.endswith("\n"):
                return False
            try:
                json.loads(first)
            except json.JSONDecodeError:
                return False
            return any(line.strip() for line in iter(lambda: stream.readline(peek), ""))
    except (OSError, UnicodeDecodeError):
        return False  # read_json says what is wrong


def read_datapackage(folder: Path) -> dict | None:
    """The folder's datapackage.json as a dict, None when there is none; ImportFailed if unreadable.

    A datapackage.json holding only a relative path is a symbolic link that git wrote out as a
    plain file (as in the HSDS examples); it is followed.
    """
    path = folder / "datapackage.json"
    if not path.is_file():
        return None
    for _ in range(3):
        try:
            text, _ = decode(path.read_bytes(), path.name)
        except OSError as exc:
            raise ImportFailed(f"can't read datapackage.json: {exc.strerror}") from None
        target = text.strip()
        if target and "\n" not in target and target.endswith(".json") and "{" not in target:
            followed = (path.parent / target).resolve()
            if followed.is_file():
                path = followed
                continue
        break
    try:
        descriptor = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            f"datapackage.json is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(descriptor, dict):
        raise ImportFailed("datapackage.json must hold a JSON object describing the package")
    resources = descriptor.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        raise ImportFailed("datapackage.json 'resources' must be a list of objects")
    return descriptor


def read_tables(
    folder: Path,
    files: dict[Path, tuple[str | None, str | None]],
    names: dict[str, str | None],
    required: dict[str, tuple[str, ...]],
    package: Package,
    say: Progress,
) -> dict[str, CsvTable]:
    """Read every CSV file that holds an HSDS table (`files` as `detect.csv_files` finds them)."""
    tables: dict[str, CsvTable] = {}
    for path, (table, encoding) in sorted(files.items()):
        if table is None:
            if path.stem.lower() not in names:
                package.warn("unknown", Origin(path.name, ""), "ignored: not an HSDS table")
            continue
        if table in tables:
            raise ImportFailed(f"{path.name} and {tables[table].file} both hold {table} rows")
        csv_table = read_csv(path, encoding=encoding, required=required.get(table, ()))
        tables[table] = csv_table
        package.files.append(path.name)
        if csv_table.encoding not in ("utf-8", "utf-16"):
            package.warn(table, Origin(path.name, ""), f"not UTF-8: read as {csv_table.encoding}")
        say(f"read {path.name}: {csv_table.count} rows")
    if not tables:
        raise ImportFailed(f"{folder.name} has no CSV file with an HSDS table's name")
    return tables
