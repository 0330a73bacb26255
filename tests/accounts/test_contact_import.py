"""Contacts from CSV: every row checked before anything is written, then all new rows in one transaction or none."""

from __future__ import annotations

import pytest

from live.accounts.contact_import import AccountRef, RowStatus, parse_csv, plan
from live.errors import InvalidInput
from tests.conftest import LiveServer, StaffMember

ACCOUNTS = [AccountRef("a1", "Acme"), AccountRef("a2", "Globex"), AccountRef("a3", "Twin"), AccountRef("a4", "twin")]


def test_rows_resolve_accounts_by_id_or_name_and_name_every_problem() -> None:
    text = (
        "\ufeffEmail,Name,Account,Phone\n"
        "ann@acme.test,Ann,acme,1\n"
        "bob@globex.test,Bob,a2\n"
        "\n"
        ",Nobody,Acme\n"
        "cy@x.test,Cy,Initech\n"
        "dee@twin.test,Dee,Twin\n"
        "ANN@acme.test,Ann again,Acme\n"
        "old@acme.test,Old,Acme\n"
    )
    rows = plan(parse_csv(text), ACCOUNTS, existing=[("a1", "old@acme.test")])
    by_line = {r.line: r for r in rows}
    assert (by_line[2].status, by_line[2].account_id) == (RowStatus.NEW, "a1")
    assert (by_line[3].status, by_line[3].account_name) == (RowStatus.NEW, "Globex")
    assert by_line[5].status is RowStatus.ERROR and by_line[5].errors == ("email is empty",)
    assert by_line[6].errors == ("account 'Initech' does not exist",)
    assert "names 2 accounts" in by_line[7].errors[0]
    assert by_line[8].status is RowStatus.DUPLICATE and by_line[8].errors == ("same as line 2",)
    assert by_line[9].status is RowStatus.DUPLICATE and "already has old@acme.test" in by_line[9].errors[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("name,email\nA,a@b.c\n", "lacks the column(s) account"), ("name,email,account\n\n", "no rows")],
)
def test_a_file_without_the_columns_or_rows_is_refused_as_a_whole(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_csv(text)


async def test_an_import_with_one_bad_row_adds_nothing_and_a_clean_one_adds_everything_new(
    server: LiveServer, staff: dict[str, StaffMember]
) -> None:
    csm = staff["csm"].token
    acme = (await server.request("POST", "/api/v1/accounts", csm, json={"name": "Acme", "plan": "p", "mrr": 10})).body
    await server.request("POST", f"/api/v1/accounts/{acme['id']}/contacts", csm, json={"name": "Old", "email": "old@acme.test"})
    bad = "name,email,account\nAnn,ann@acme.test,Acme\nBo,not-an-email,Acme\n"

    preview = await server.request("POST", "/api/v1/contacts/import", csm, json={"csv": bad})
    assert preview.status == 200 and preview.body["summary"] == {"new": 1, "duplicate": 0, "error": 1}
    assert preview.body["rows"][1]["errors"] == ["email 'not-an-email' is not an email address"]
    refused = await server.request("POST", "/api/v1/contacts/import", csm, json={"csv": bad, "confirm": True})
    assert refused.status == 400 and refused.body["error"]["code"] == "import_invalid"
    assert "line 3" in refused.body["error"]["message"]
    contacts = await server.request("GET", f"/api/v1/accounts/{acme['id']}/contacts", csm)
    assert [c["email"] for c in contacts.body] == ["old@acme.test"]

    good = f"name,email,account\nAnn,ann@acme.test,{acme['id']}\nOld,OLD@acme.test,Acme\nBo,bo@acme.test,acme\n"
    done = await server.request("POST", "/api/v1/contacts/import", csm, json={"csv": good, "confirm": True})
    assert done.status == 201 and done.body["imported"] == 2
    assert done.body["summary"] == {"new": 2, "duplicate": 1, "error": 0}
    contacts = await server.request("GET", f"/api/v1/accounts/{acme['id']}/contacts", csm)
    assert sorted(c["email"] for c in contacts.body) == ["ann@acme.test", "bo@acme.test", "old@acme.test"]
    again = await server.request("POST", "/api/v1/contacts/import", csm, json={"csv": good, "confirm": True})
    assert again.body["imported"] == 0 and again.body["summary"]["duplicate"] == 3


async def test_hosts_cannot_import_and_a_body_without_csv_is_refused(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    body = {"csv": "name,email,account\nA,a@b.test,X\n"}
    host = await sqlite_server.request("POST", "/api/v1/contacts/import", sqlite_staff["host"].token, json=body)
    assert host.status == 403
    wrong = await sqlite_server.request("POST", "/api/v1/contacts/import", sqlite_staff["csm"].token, json={"file": "x"})
    assert wrong.status == 400 and "'csv'" in wrong.body["error"]["message"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name,email,account\rAnn,ann@acme.test,Acme\rBob,bob@acme.test,Acme", 2),  # old Mac line ends
        ('name,email,account\r\nAnn,"ann@acme.test",Acme\r\n', 1),
        ("\x10junk\r4Yo$K", "lacks the column"),  # what the API fuzzer sent: a bare \r in an unquoted field
        ("name,email,account\nAnn\x00,ann@acme.test,Acme", "NUL character"),
    ],
)
def test_any_line_ending_is_read_and_an_unreadable_file_is_refused_not_crashed_on(text: str, expected: int | str) -> None:
    if isinstance(expected, int):
        assert len(parse_csv(text)) == expected
    else:
        with pytest.raises(InvalidInput, match=expected):
            parse_csv(text)
