"""Voting primitives (protocol §4) and the numeric helpers they rely on."""

from __future__ import annotations

import math
import random
import sys
from fractions import Fraction

import pytest

from autotts_dsl.replay.numeric import neumaier_sum
from autotts_dsl.replay.voting import beta_conf, tally, vote_stats, winner

# -- winner / top1 / top2 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["a", "b", "b", "a"], "a"),  # tie 2-2: "a" occurs first
        (["b", "a", "a", "b"], "b"),
        (["c", "a", "b"], "c"),  # all distinct: the first
        (["a", "b", "b"], "b"),  # a strict majority beats an earlier answer
        (["x", "y", "z", "z", "y"], "y"),  # tie between y and z: y occurs first
        (["a"], "a"),
    ],
)
def test_winner_tie_breaks_by_first_occurrence(answers: list[str], expected: str) -> None:
    assert winner(answers) == expected


def test_winner_empty_is_none() -> None:
    assert winner([]) is None
    assert vote_stats([]) == (None, 0, 0)


def test_winner_works_on_interned_ints() -> None:
    assert winner([5, 3, 3, 5, 9]) == 5
    assert winner([-1, 2, -1]) == -1


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["a"], ("a", 1, 0)),
        (["a", "a", "a"], ("a", 3, 0)),  # one distinct answer: top2 = 0
        (["a", "b"], ("a", 1, 1)),
        (["a", "a", "b", "c", "c", "c"], ("c", 3, 2)),
        (["a", "b", "c", "c", "b", "d", "d", "d"], ("d", 3, 2)),
        (["b", "a", "a", "b", "c"], ("b", 2, 2)),
        (["q", "r", "s", "r", "q", "q", "r", "r"], ("r", 4, 3)),
    ],
)
def test_vote_stats(answers: list[str], expected: tuple[str, int, int]) -> None:
    assert vote_stats(answers) == expected


def test_vote_stats_accepts_iterators() -> None:
    assert vote_stats(iter(["a", "b", "b"])) == ("b", 2, 1)


def test_tally_counts_in_first_occurrence_order() -> None:
    counts = tally(["z", "a", "z", "m", "a", "z"])
    assert list(counts.items()) == [("z", 3), ("a", 2), ("m", 1)]


def test_vote_stats_against_brute_force() -> None:
    rng = random.Random(2024)
    for _ in range(500):
        answers = [rng.choice("abcde") for _ in range(rng.randint(1, 12))]
        counts = {a: answers.count(a) for a in answers}
        best = max(counts.values())
        first = min(answers.index(a) for a in counts if counts[a] == best)
        ranked = [*sorted(counts.values(), reverse=True), 0]
        assert vote_stats(answers) == (answers[first], ranked[0], ranked[1]), answers


# -- beta_conf -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("top1", "top2", "expected"),
    [
        (1, 0, 0.75),
        (2, 0, 0.875),
        (3, 0, 0.9375),
        (1, 1, 0.5),
        (2, 2, 0.5),
        (2, 1, 0.6875),  # P[Bin(4, 1/2) <= 2] = 11/16
        (3, 1, 0.8125),  # P[Bin(5, 1/2) <= 3] = 26/32
        (1, 2, 0.3125),  # P[Bin(4, 1/2) <= 1] = 5/16
    ],
)
def test_beta_conf_exact_small_counts(top1: int, top2: int, expected: float) -> None:
    assert beta_conf(top1, top2) == expected


@pytest.mark.parametrize("top2", [0, 1, 2, 7, 40])
def test_beta_conf_zero_when_no_majority_answer(top2: int) -> None:
    assert beta_conf(0, top2) == 0.0


def _upper_tail_by_integration(top1: int, top2: int) -> Fraction:
    """1 - I_{1/2}(top1+1, top2+1), integrating the Beta density exactly.

    ∫_{1/2}^1 x^a (1-x)^b dx = ∫_0^{1/2} y^b (1-y)^a dy, expanded binomially;
    normalised by B(a+1, b+1) = a! b! / (a+b+1)!.
    """
    a, b = top1, top2
    integral = sum(
        Fraction((-1) ** j * math.comb(a, j), b + j + 1) * Fraction(1, 2) ** (b + j + 1)
        for j in range(a + 1)
    )
    beta_fn = Fraction(math.factorial(a) * math.factorial(b), math.factorial(a + b + 1))
    return integral / beta_fn


def test_beta_conf_equals_beta_tail_exactly_for_all_counts_to_69() -> None:
    for n in range(1, 70):
        for top1 in range(1, n + 1):
            top2 = n - top1
            expected = float(_upper_tail_by_integration(top1, top2))
            assert beta_conf(top1, top2) == expected, (top1, top2)


def test_beta_conf_against_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for n in range(1, 70):
        for top1 in range(1, n + 1):
            top2 = n - top1
            ref = 1.0 - float(stats.beta.cdf(0.5, top1 + 1, top2 + 1))
            assert abs(beta_conf(top1, top2) - ref) <= 1e-12, (top1, top2)


def test_beta_conf_monotone() -> None:
    for top2 in range(0, 20):
        values = [beta_conf(t1, top2) for t1 in range(0, 40)]
        assert values == sorted(values)
    for top1 in range(1, 20):
        values = [beta_conf(top1, t2) for t2 in range(0, 40)]
        assert values == sorted(values, reverse=True)


# -- compensated summation -------------------------------------------------------------------


def _plain_sum(values: list[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def test_neumaier_recovers_cancelled_term() -> None:
    values = [1e100, 1.0, -1e100]
    assert _plain_sum(values) == 0.0
    assert neumaier_sum(values) == 1.0 == math.fsum(values)


def test_neumaier_sdgv_weighted_vote_example() -> None:
    # spec/discovered/sdgv.md quirk 5 (β = 0.8): tallies built by plain
    # addition of boost 3.4000000000000004 and 1.0 in branch order.
    boost = 1 + 3 * 0.8
    assert boost == 3.4000000000000004
    tallies = [boost, boost + boost + boost + boost + 1.0 + 1.0, boost + 1.0, boost + 1.0 + 1.0]
    assert tallies == [3.4000000000000004, 15.600000000000001, 4.4, 5.4]
    assert _plain_sum(tallies) == 28.799999999999997
    assert neumaier_sum(tallies) == 28.800000000000004 == math.fsum(tallies)
    # ... which is what decides the half-to-even rounding of the rescaled count
    assert round(tallies[1] * (12 / _plain_sum(tallies))) == 7
    assert round(tallies[1] * (12 / neumaier_sum(tallies))) == 6


@pytest.mark.parametrize(
    "values",
    [
        [],
        [0.5],
        [0.1] * 10,
        [1.0, 1e-16, 1e-16, 1e-16, 1e-16],
        [1e16, 1.0, 1.0, -1e16],
        [3.0, float("inf")],
        [0.1, 0.2, 0.3, -0.6],
    ],
)
def test_neumaier_matches_fsum_on_known_cases(values: list[float]) -> None:
    assert neumaier_sum(values) == math.fsum(values)


def test_neumaier_keeps_infinities_and_nan() -> None:
    assert neumaier_sum([1.0, float("inf"), 2.0]) == float("inf")
    assert math.isnan(neumaier_sum([float("inf"), float("-inf")]))


def test_neumaier_accepts_ints_and_generators() -> None:
    assert neumaier_sum(x for x in (1, 2, 3)) == 6.0
    assert isinstance(neumaier_sum([1, 2]), float)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="built-in sum is compensated from 3.12")
def test_neumaier_is_bit_identical_to_builtin_sum_on_312() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        values = [
            rng.uniform(-1, 1) * 10 ** rng.randint(-20, 20) for _ in range(rng.randint(0, 30))
        ]
        assert neumaier_sum(values) == sum(values), values
