"""Poll rules without a server: definitions, valid votes, statuses and the tally under re-votes."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live.errors import Conflict, InvalidInput
from live.polls.model import (
    MAX_OPTION,
    MAX_OPTIONS,
    Ballots,
    PollSpec,
    PollStatus,
    check_choices,
    check_spec,
    sees_live_results,
    tally,
    vote_delta,
)

SINGLE = PollSpec("Which day?", ("Mon", "Tue", "Wed"))
MULTI = PollSpec("Which tools?", ("Jira", "Slack", "Zoom", "Excel"), multiple=True)


def test_a_definition_is_trimmed_and_kept_in_order() -> None:
    spec = check_spec("  Ship it?  ", [" yes", "no "], multiple=True, anonymous=True)
    assert spec == PollSpec("Ship it?", ("yes", "no"), multiple=True, anonymous=True)


@pytest.mark.parametrize(
    ("question", "options", "named"),
    [
        ("", ["a", "b"], "empty"),
        ("Q?", ["only one"], "got 1"),
        ("Q?", [str(i) for i in range(MAX_OPTIONS + 1)], "got 11"),
        ("Q?", ["a", "  "], "Option 1 is empty"),
        ("Q?", ["a", "x" * (MAX_OPTION + 1)], f"Option 1 has {MAX_OPTION + 1} characters"),
        ("Q?", ["Yes", "yes"], "repeats"),
        ("x" * 501, ["a", "b"], "501 characters"),
    ],
)
def test_a_bad_definition_is_refused_naming_what_is_wrong(question: str, options: list[str], named: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_spec(question, options)
    assert named in caught.value.message


def test_a_single_choice_poll_takes_exactly_one_option() -> None:
    assert check_choices(SINGLE, [2]) == (2,)
    with pytest.raises(InvalidInput, match="exactly one"):
        check_choices(SINGLE, [0, 1])


def test_a_multiple_choice_poll_takes_distinct_options_sorted() -> None:
    assert check_choices(MULTI, [3, 0]) == (0, 3)


@pytest.mark.parametrize(
    ("choices", "named"),
    [([], "empty"), ([4], "Choice 4 is not an option"), ([-1], "Choice -1"), ([1, 1], "Choice 1 is given more than once")],
)
def test_a_bad_vote_is_refused_naming_the_index(choices: list[int], named: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_choices(MULTI, choices)
    assert named in caught.value.message and caught.value.code == "bad_choices"


def test_a_poll_goes_from_draft_to_open_to_closed_and_never_back() -> None:
    assert PollStatus.DRAFT.transition(PollStatus.OPEN) is PollStatus.OPEN
    assert PollStatus.OPEN.transition(PollStatus.CLOSED) is PollStatus.CLOSED
    for start, to in [
        (PollStatus.CLOSED, PollStatus.OPEN),
        (PollStatus.OPEN, PollStatus.OPEN),
        (PollStatus.DRAFT, PollStatus.CLOSED),
        (PollStatus.CLOSED, PollStatus.CLOSED),
    ]:
        with pytest.raises(Conflict, match=f"'{start.value}' cannot become '{to.value}'"):
            start.transition(to)


def test_staff_see_results_at_once_and_attendees_after_voting() -> None:
    assert sees_live_results(is_staff=True, voted=False)
    assert not sees_live_results(is_staff=False, voted=False)
    assert sees_live_results(is_staff=False, voted=True)


def test_a_re_vote_replaces_the_earlier_choice() -> None:
    ballots = Ballots(3)
    assert ballots.cast("c_a", (0,)) is True
    assert ballots.cast("c_a", (2,)) is False
    assert ballots.counts == [0, 0, 1] and ballots.voters == 1


def test_an_anonymous_poll_keeps_who_voted_but_not_what_and_refuses_a_second_vote() -> None:
    ballots = Ballots(3, anonymous=True)
    ballots.cast("c_a", (1,))
    assert ballots.choices == {"c_a": None} and ballots.counts == [0, 1, 0]
    with pytest.raises(Conflict) as caught:
        ballots.cast("c_a", (2,))
    assert caught.value.code == "already_voted"
    assert ballots.counts == [0, 1, 0]


def test_a_vote_delta_moves_one_count_from_the_old_choice_to_the_new() -> None:
    assert vote_delta(None, (0, 2)) == {0: 1, 2: 1}
    assert vote_delta((0, 2), (2, 3)) == {0: -1, 3: 1}
    assert vote_delta((1,), (1,)) == {}


OPTIONS = 4
votes = st.lists(
    st.tuples(
        st.sampled_from(["c_a", "c_b", "c_c", "c_d", "c_e"]),
        st.sets(st.integers(0, OPTIONS - 1), min_size=1).map(lambda s: tuple(sorted(s))),
    ),
    max_size=60,
)


@given(votes)
def test_tallies_equal_the_sum_of_everyones_latest_vote_whatever_the_order(sequence: list[tuple[str, tuple[int, ...]]]) -> None:
    ballots = Ballots(OPTIONS)
    latest: dict[str, tuple[int, ...]] = {}
    for voter, choices in sequence:
        ballots.cast(voter, choices)
        latest[voter] = choices
    assert ballots.counts == tally(latest, OPTIONS)
    assert ballots.voters == len(latest)


@given(votes)
def test_summed_vote_deltas_equal_the_tally_like_the_database_counters(sequence: list[tuple[str, tuple[int, ...]]]) -> None:
    counters = [0] * OPTIONS
    latest: dict[str, tuple[int, ...]] = {}
    for voter, choices in sequence:
        for option, change in vote_delta(latest.get(voter), choices).items():
            counters[option] += change
        latest[voter] = choices
    assert counters == tally(latest, OPTIONS)


@given(votes, st.randoms())
def test_the_final_tally_does_not_depend_on_the_order_people_voted_in(
    sequence: list[tuple[str, tuple[int, ...]]], rnd: random.Random
) -> None:
    # Each person's own votes keep their order (their last is their vote); people interleave at random.
    per_person: dict[str, list[tuple[int, ...]]] = {}
    for voter, choices in sequence:
        per_person.setdefault(voter, []).append(choices)
    queues = {v: list(cs) for v, cs in per_person.items()}
    shuffled: list[tuple[str, tuple[int, ...]]] = []
    while queues:
        voter = rnd.choice(sorted(queues))
        shuffled.append((voter, queues[voter].pop(0)))
        if not queues[voter]:
            del queues[voter]
    first, second = Ballots(OPTIONS), Ballots(OPTIONS)
    for voter, choices in sequence:
        first.cast(voter, choices)
    for voter, choices in shuffled:
        second.cast(voter, choices)
    assert first.counts == second.counts
