"""Page numbers and page sizes from the query string, bounded in one place for every list.

A page number beyond MAX_PAGE, or one that is not a whole number from 1, is refused (BadPaging:
JSON answers 400 naming the parameter, pages show their first page), so an OFFSET never
overflows the database (SQLite's OverflowError, PostgreSQL's bigint out of range).
"""

from collections.abc import Mapping
from dataclasses import dataclass

MAX_PAGE = 10_000
MAX_PER_PAGE = 100  # the longest page a list or API serves


@dataclass(frozen=True)
class Page:
    """One page of a longer list, with what the pagination links need."""

    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


class BadPaging(ValueError):
    """A page or per_page value out of range; `parameter` names it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message


def _whole_number(args: Mapping, name: str) -> int | None:
    raw = str(args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadPaging(name, f"{name} must be a whole number, not {raw[:40]!r}.") from None


def page_number(args: Mapping, name: str = "page", high: int = MAX_PAGE) -> int:
    """The page asked for (1 when absent); BadPaging unless it is from 1 to `high`."""
    number = _whole_number(args, name)
    if number is None:
        return 1
    if not 1 <= number <= high:
        raise BadPaging(name, f"{name} must be 1 or more, and at most {high}.")
    return number


def page_size(args: Mapping, default: int, high: int = MAX_PER_PAGE, name: str = "per_page") -> int:
    """The page size asked for (`default` when absent); BadPaging unless from 1 to `high`."""
    number = _whole_number(args, name)
    if number is None:
        return default
    if not 1 <= number <= high:
        raise BadPaging(name, f"{name} must be between 1 and {high}.")
    return number


def paginate(query, page: int, per_page: int, *, scalars: bool = True) -> Page:
    """One page of a SELECT (its rows' first entity, or whole rows), the page number bounded
    by the pages there are."""
    from sqlalchemy import func, select

    from extensions import db

    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    page = min(max(1, page), max(1, -(-total // per_page)))
    result = db.session.execute(query.limit(per_page).offset((page - 1) * per_page))
    items = list(result.scalars()) if scalars else [tuple(row) for row in result]
    return Page(items, total, page, per_page)
