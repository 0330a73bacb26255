"""The registration form and a session's questions, checked as plain values."""

from __future__ import annotations

import pytest

from live.errors import InvalidInput
from live.registration.model import FormError, Question, check_form, check_questions

QUESTIONS = [Question("goal", "What do you want to learn?", True), Question("team", "Team size?")]


def test_a_complete_form_gives_a_registrant_with_a_normalised_email_and_only_given_answers() -> None:
    person = check_form({"name": " Ann Lee ", "email": "Ann@Example.COM", "company": "", "q_goal": "Reports",
                         "q_team": " "}, QUESTIONS)
    assert (person.name, person.email, person.company, person.domain) == ("Ann Lee", "ann@example.com", None,
                                                                          "example.com")
    assert person.answers == {"goal": "Reports"}


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(FormError) as refused:
        check_form({"name": "", "email": "ann@", "q_goal": ""}, QUESTIONS)
    assert set(refused.value.errors) == {"name", "email", "q_goal"}
    assert refused.value.errors["q_goal"] == "Please answer: What do you want to learn?"


@pytest.mark.parametrize("email", ["ann", "ann@localhost", "ann@example.invalid", "a b@example.com"])
def test_addresses_that_cannot_receive_mail_are_refused(email: str) -> None:
    with pytest.raises(FormError, match="not an email address"):
        check_form({"name": "Ann", "email": email, "q_goal": "x"}, QUESTIONS)


def test_questions_get_ids_and_at_most_five_are_allowed() -> None:
    assert check_questions([{"text": "Role?"}, {"id": "Size", "text": "Size?", "required": True}]) == [
        Question("q1", "Role?", False), Question("size", "Size?", True)
    ]
    with pytest.raises(InvalidInput, match="at most 5"):
        check_questions([{"text": f"Q{n}"} for n in range(6)])
    with pytest.raises(InvalidInput, match="used twice"):
        check_questions([{"id": "a", "text": "A"}, {"id": "a", "text": "B"}])
    with pytest.raises(InvalidInput, match=r"questions\.0\.id"):
        check_questions([{"id": "no spaces", "text": "A"}])
