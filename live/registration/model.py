"""Open registration, pure: a session's questions, a registrant's form checked field by field, who they are."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from email_validator import EmailNotValidError, validate_email

from live.errors import InvalidInput


class Registration(StrEnum):
    INVITE_ONLY = "invite_only"
    OPEN = "open"


MAX_QUESTIONS = 5
MAX_ANSWER = 1000
MAX_QUESTION = 300
_QUESTION_ID = re.compile(r"^[a-z0-9_]{1,32}$")
# The account a registrant joins when neither their address nor its domain is known.
UNASSIGNED = "Unassigned"


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    required: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "required": self.required}


def check_questions(raw: Sequence[Mapping[str, Any]]) -> list[Question]:
    """At most five, each `{id, text, required?}` with a short unique id (it names the form field `q_<id>`)."""
    if len(raw) > MAX_QUESTIONS:
        raise InvalidInput(f"'questions' has {len(raw)} questions; at most {MAX_QUESTIONS} are allowed.")
    questions: list[Question] = []
    for index, item in enumerate(raw):
        qid = str(item.get("id") or f"q{index + 1}").strip().lower()
        text = str(item.get("text") or "").strip()
        if not _QUESTION_ID.match(qid):
            raise InvalidInput(f"'questions.{index}.id' has value {qid!r}; use 1-32 of a-z, 0-9 and _.")
        if not text or len(text) > MAX_QUESTION:
            raise InvalidInput(f"'questions.{index}.text' must be 1-{MAX_QUESTION} characters.")
        if any(q.id == qid for q in questions):
            raise InvalidInput(f"'questions.{index}.id' {qid!r} is used twice.")
        questions.append(Question(qid, text, bool(item.get("required", False))))
    return questions


def questions_of(stored: Sequence[Mapping[str, Any]] | None) -> list[Question]:
    return [Question(str(q["id"]), str(q["text"]), bool(q.get("required"))) for q in stored or []]


@dataclass(frozen=True)
class Registrant:
    name: str
    email: str
    company: str | None
    answers: dict[str, str]

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[1]


class FormError(InvalidInput):
    """A registration form refused, with one message per field so the page can show each by its field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()), code="invalid_form")
        self.errors = errors


def check_form(form: Mapping[str, str], questions: Sequence[Question]) -> Registrant:
    errors: dict[str, str] = {}
    name = form.get("name", "").strip()
    if not name:
        errors["name"] = "Please give your name."
    elif len(name) > 200:
        errors["name"] = "Your name is longer than 200 characters."
    raw_email = form.get("email", "").strip()
    email = ""
    try:
        # Syntax only: a registration page must not wait on DNS, and the mail itself proves the address.
        # `test_environment` lets RFC 2606's `.test` through (the demo's people live there); other reserved
        # names (`.invalid`, `.localhost`, ...) are still refused.
        email = validate_email(raw_email, check_deliverability=False, test_environment=True).normalized.lower()
    except EmailNotValidError as exc:
        errors["email"] = f"{raw_email!r} is not an email address: {exc}" if raw_email else "Please give your email."
    company = form.get("company", "").strip() or None
    if company is not None and len(company) > 200:
        errors["company"] = "The company name is longer than 200 characters."
    answers: dict[str, str] = {}
    for q in questions:
        answer = form.get(f"q_{q.id}", "").strip()
        if q.required and not answer:
            errors[f"q_{q.id}"] = f"Please answer: {q.text}"
        elif len(answer) > MAX_ANSWER:
            errors[f"q_{q.id}"] = f"The answer to {q.text!r} is longer than {MAX_ANSWER} characters."
        elif answer:
            answers[q.id] = answer
    if errors:
        raise FormError(errors)
    return Registrant(name, email, company, answers)
