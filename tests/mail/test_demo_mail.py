"""`live demo` then the server: the demo's invitations are written as .eml files and listed on /mail."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import ServerFactory, add_staff
from tests.engagement.support import api
from tests.test_demo import run_demo


async def test_a_newcomers_demo_shows_its_invitation_mails_on_the_mail_page(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    assert run_demo(tmp_path).returncode == 0
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    server = await make_server(url, mail_dir=tmp_path / "var" / "mail")
    admin = await add_staff(url, "second-admin@live.test", "admin")
    for _ in range(400):
        listed = await api(server, "GET", "/api/v1/mail", admin.token)
        if listed["counts"].get("sent", 0) == sum(listed["counts"].values()):
            break
        await asyncio.sleep(0.05)
    # 24 contacts to the webinar, the 6 of onboarding accounts to the welcome seminar, Hooli's 2 to the check-in.
    assert listed["counts"] == {"sent": 32}
    assert len(list((tmp_path / "var" / "mail").glob("*.eml"))) == 32
    page = await server.request("GET", "/mail", admin.token)
    assert "Invitation: What&#39;s new this quarter" in page.text and "alex@globex.test" in page.text
