"""CSV downloads: cells a spreadsheet will not run as formulas, lines written as rows come."""

import csv
import io
from collections.abc import Iterable, Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """The value as text. One that starts with = + - @, a tab or a carriage return would run as
    a formula in a spreadsheet (CSV injection: a member's name or a need is typed by people),
    so it gets a leading apostrophe and shows as typed."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: Iterable, rows: Iterable[Iterable]) -> Iterator[str]:
    """The header, then each row, as CSV text one line at a time as the rows come: a download of
    any length is streamed, never held whole."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable) -> str:
        writer.writerow([safe_cell(cell) for cell in cells])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(header)
    for row in rows:
        yield line(row)
