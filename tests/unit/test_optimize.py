"""``_optimize`` without a server: the search space, and the chain that keeps ``n_trials`` exact.

The chain is driven by several study objects over one in-memory storage, as
several processes share a storage: whatever the interleaving, the trials
made never exceed ``n_trials``, and exactly that many are taken in the end.
(The runs, the leaderboard and the processes: tests/integration/test_optimize_real.py.)
"""

from __future__ import annotations

import random

import optuna
import pytest

import aioflowserv as afs
from aioflowserv._optimize import AFTER, _Chain, resolve_space

D = optuna.distributions

DECLARATIONS = afs.ParameterIndex.from_json([
    {"name": "x", "dtype": "float", "defaultValue": 0.0, "range": "[-5,5]", "index": 0},
    {"name": "n", "dtype": "int", "defaultValue": 1, "range": "(0,10]", "index": 1},
    {"name": "method", "dtype": "select", "defaultValue": "a", "index": 2,
     "values": [{"name": "A", "value": "a"}, {"name": "B", "value": "b"}]},
    {"name": "open", "dtype": "float", "defaultValue": 1.0, "range": "[0,)", "index": 3},
    {"name": "flag", "dtype": "bool", "defaultValue": False, "index": 4},
    {"name": "name", "dtype": "string", "defaultValue": "n", "index": 5},
])


@pytest.fixture(autouse=True)
def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_the_declared_ranges_and_choices_make_the_default_space() -> None:
    space = resolve_space(DECLARATIONS, None)
    assert space.distributions == {
        "x": D.FloatDistribution(-5.0, 5.0),
        "n": D.IntDistribution(1, 10),  # (0,10]: 0 left out
        "method": D.CategoricalDistribution(["a", "b"]),
    }
    assert space.fixed == {}  # an open range, a bool, a string: their defaults


def test_a_given_space_overrides_parameter_by_parameter() -> None:
    space = resolve_space(DECLARATIONS, {
        "x": (0.0, 1.0), "n": (2, 4), "method": ["b"], "flag": True,
        "open": D.FloatDistribution(0.1, 10, log=True), "name": None,
    })
    assert space.distributions == {
        "x": D.FloatDistribution(0.0, 1.0), "n": D.IntDistribution(2, 4),
        "method": D.CategoricalDistribution(["b"]),
        "open": D.FloatDistribution(0.1, 10, log=True),
    }
    assert space.fixed == {"flag": True}


def test_a_space_can_fix_a_declared_range_or_leave_it_at_its_default() -> None:
    space = resolve_space(DECLARATIONS, {"x": 1.5, "n": None})
    assert space.fixed == {"x": 1.5}
    assert set(space.distributions) == {"method"}


def test_the_distributions_of_spaces_are_optuna_distributions() -> None:
    space = resolve_space(
        DECLARATIONS, {"x": afs.uniform(-1, 1), "n": afs.integers(1, 3)}
    )
    assert space.distributions["x"] == D.FloatDistribution(-1, 1)
    assert space.distributions["n"] == D.IntDistribution(1, 3)
    logged = resolve_space(DECLARATIONS, {"open": afs.uniform(0.5, 5, log=True)})
    assert logged.distributions["open"] == D.FloatDistribution(0.5, 5, log=True)


@pytest.mark.parametrize(
    ("space", "parameter"),
    [({"x": (-10.0, 0.0)}, "x"), ({"n": (0, 3)}, "n"), ({"method": ["a", "z"]}, "method"),
     ({"x": (1.0, 2.0, 3.0)}, "x"), ({"x": []}, "x"), ({"flag": "maybe"}, "flag")],
)
def test_bounds_and_choices_are_checked_against_the_declarations(
    space: dict[str, object], parameter: str
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        resolve_space(DECLARATIONS, space)
    assert caught.value.parameter == parameter


def test_an_unknown_parameter_in_the_space_is_refused() -> None:
    with pytest.raises(afs.UnknownParameterError):
        resolve_space(DECLARATIONS, {"z": (0.0, 1.0)})


def test_suggestions_stay_in_the_space() -> None:
    space = resolve_space(DECLARATIONS, {"flag": True})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        arguments = space.suggest(study.ask())
        assert -5 <= arguments["x"] <= 5
        assert 1 <= arguments["n"] <= 10
        assert arguments["method"] in ("a", "b")
        assert arguments["flag"] is True


# -- the chain ------------------------------------------------------------------------------


def processes(count: int, n_trials: int) -> list[_Chain]:
    """``count`` views of one study, as processes sharing its storage have."""
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(study_name="shared", storage=storage)
    return [
        _Chain(optuna.load_study(study_name="shared", storage=storage), n_trials)
        for _ in range(count)
    ]


@pytest.mark.parametrize("seed", range(20))
def test_processes_taking_trials_in_any_order_make_exactly_n_trials(seed: int) -> None:
    chains = processes(3, n_trials=7)
    order = random.Random(seed)
    taken: list[int] = []
    done = set()
    while len(done) < len(chains):
        chain = order.choice(chains)
        trial_id, more = chain.take()
        if trial_id is not None:
            taken.append(trial_id)
            assert len(chain.trials()) <= 7  # never a trial numbered 7 or more
        elif not more:
            done.add(id(chain))
    assert len(taken) == len(set(taken)) == 7
    assert sorted(t.number for t in chains[0].trials()) == list(range(7))


def test_a_full_study_gives_no_more_trials_and_a_larger_n_trials_goes_on() -> None:
    (chain,) = processes(1, n_trials=2)
    assert chain.take()[0] is not None
    assert chain.take()[0] is not None
    assert chain.take() == (None, False)
    for trial in chain.trials():
        chain.study.tell(trial.number, 1.0)
    chain.n_trials = 4
    assert chain.take()[0] is not None  # a new chain, started once
    assert chain.take()[0] is not None
    assert chain.take() == (None, False)
    assert len(chain.trials()) == 4


def test_a_token_whose_taker_is_still_at_it_blocks_a_new_chain() -> None:
    first, second = processes(2, n_trials=3)
    first.n_trials = 1  # the taker of the first token sees a full study: no successor...
    assert first.take()[0] is not None
    # ...but the second process sees room, and a RUNNING token without a successor whose
    # taker might still be making it: it does not start a second chain.
    assert second.blocked(second.trials()) is not None
    assert second.take() == (None, True)
    first.n_trials = 3
    first.extend(0)  # the successor of trial 0 appears
    assert second.take()[0] is not None
    assert [t.user_attrs.get(AFTER) for t in second.trials()] == [None, 0, 1]


def test_trials_enqueued_by_the_user_are_taken_first_and_count() -> None:
    (chain,) = processes(1, n_trials=3)
    chain.study.enqueue_trial({"x": 1.0})
    ids = [chain.take()[0] for _ in range(3)]
    assert None not in ids
    assert chain.take() == (None, False)
    assert chain.trials()[0].system_attrs["fixed_params"] == {"x": 1.0}


def test_a_token_taken_meanwhile_does_not_start_a_second_chain() -> None:
    first, second = processes(2, n_trials=4)
    assert first.take()[0] is not None  # the chain starts; trial 1 waits
    stale = second.trials()  # the second process reads: trial 1 is WAITING...
    assert first.take()[0] is not None  # ...the first takes it and makes trial 2
    reads = iter([stale])
    fresh = second.trials
    second.trials = lambda states=None: next(reads, None) or fresh(states)  # type: ignore[method-assign]
    assert second.take() == (None, True)  # it lost the race: it looks again, later
    assert len(first.trials()) == 3  # and no second chain was started
    assert second.take()[0] is not None  # trial 2, which makes trial 3
    assert first.take()[0] is not None  # trial 3, the last
    assert second.take() == (None, False)
    assert len(first.trials()) == 4
