"""Contacts from a CSV file (`name,email,account`): parsed and checked row by row, pure, before anything is written."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from live.errors import InvalidInput

COLUMNS = ("name", "email", "account")
# One upload is one transaction; a file this size imports in well under a second and keeps the
# preview readable. Bigger lists go in several files.
MAX_ROWS = 5000
MAX_NAME = 200
MAX_EMAIL = 320


class RowStatus(StrEnum):
    NEW = "new"  # will be added
    DUPLICATE = "duplicate"  # already a contact of that account, or earlier in the file: skipped
    ERROR = "error"  # blocks the whole import until fixed


@dataclass(frozen=True)
class AccountRef:
    id: str
    name: str


@dataclass(frozen=True)
class ImportRow:
    line: int  # the line in the file, header = 1, as a spreadsheet shows it
    name: str
    email: str
    account: str  # as written in the file
    account_id: str | None = None
    account_name: str | None = None
    status: RowStatus = RowStatus.NEW
    errors: tuple[str, ...] = field(default_factory=tuple)


def parse_csv(text: str) -> list[tuple[int, dict[str, str]]]:
    """The data rows as (line, {name, email, account}); a missing column or an empty file is refused."""
    text = text.lstrip("\ufeff")  # Excel's UTF-8 byte order mark
    if not text.strip():
        raise InvalidInput("The CSV file is empty; it needs a header line 'name,email,account'.")
    # newline="": the csv module reads \r, \n and \r\n line ends itself (a quoted field may hold them).
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _rows(reader)
    except csv.Error as exc:
        raise InvalidInput(f"The CSV file cannot be read at line {reader.line_num}: {exc}.") from exc


def _rows(reader: Any) -> list[tuple[int, dict[str, str]]]:
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidInput(
            f"The CSV header {','.join(header)!r} lacks the column(s) {', '.join(missing)}; "
            "it needs 'name,email,account'."
        )
    where = {c: header.index(c) for c in COLUMNS}
    rows: list[tuple[int, dict[str, str]]] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, often at the end of an exported file
        line = reader.line_num
        if any("\x00" in cell for cell in cells):
            raise InvalidInput(f"Line {line} of the CSV file holds a NUL character; is it a text file?")
        rows.append((line, {c: (cells[i].strip() if i < len(cells) else "") for c, i in where.items()}))
        if len(rows) > MAX_ROWS:
            raise InvalidInput(f"The CSV file has more than {MAX_ROWS} rows; split it into several files.")
    if not rows:
        raise InvalidInput("The CSV file has a header but no rows.")
    return rows


def _email_problem(email: str) -> str | None:
    if not email:
        return "email is empty"
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or any(ch.isspace() for ch in email) or len(email) > MAX_EMAIL:
        return f"email {email!r} is not an email address"
    return None


def plan(
    rows: Iterable[tuple[int, dict[str, str]]],
    accounts: Iterable[AccountRef],
    existing: Iterable[tuple[str, str]],
) -> list[ImportRow]:
    """Each row checked against the accounts (by id, else by name ignoring case) and the existing
    contacts as (account_id, email) pairs."""
    by_id = {a.id: a for a in accounts}
    by_name: dict[str, list[AccountRef]] = {}
    for ref in by_id.values():
        by_name.setdefault(ref.name.strip().lower(), []).append(ref)
    seen = {(account_id, email.lower()) for account_id, email in existing}
    in_file: dict[tuple[str, str], int] = {}
    planned = []
    for line, cells in rows:
        name, email, wanted = cells["name"], cells["email"].lower(), cells["account"]
        errors = []
        if not name:
            errors.append("name is empty")
        elif len(name) > MAX_NAME:
            errors.append(f"name is longer than {MAX_NAME} characters")
        problem = _email_problem(email)
        if problem:
            errors.append(problem)
        account = _account(wanted, by_id, by_name, errors)
        status = RowStatus.ERROR if errors else RowStatus.NEW
        note: tuple[str, ...] = tuple(errors)
        if not errors and account is not None:
            key = (account.id, email)
            if key in seen:
                status, note = RowStatus.DUPLICATE, (f"{account.name} already has {email}",)
            elif key in in_file:
                status, note = RowStatus.DUPLICATE, (f"same as line {in_file[key]}",)
            else:
                in_file[key] = line
        planned.append(
            ImportRow(
                line, name, email, wanted,
                account.id if account else None, account.name if account else None, status, note,
            )
        )
    return planned


def _account(
    wanted: str, by_id: Mapping[str, AccountRef], by_name: Mapping[str, list[AccountRef]], errors: list[str]
) -> AccountRef | None:
    if not wanted:
        errors.append("account is empty")
        return None
    if wanted in by_id:
        return by_id[wanted]
    matches = by_name.get(wanted.lower(), [])
    if len(matches) == 1:
        return matches[0]
    if matches:
        errors.append(f"account {wanted!r} names {len(matches)} accounts; use the account's id")
    else:
        errors.append(f"account {wanted!r} does not exist")
    return None


def summary(rows: Iterable[ImportRow]) -> dict[str, int]:
    counts = {status.value: 0 for status in RowStatus}
    for row in rows:
        counts[row.status.value] += 1
    return counts
