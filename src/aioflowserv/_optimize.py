"""Optimizing a workflow's arguments with optuna: each trial is one run (the ``optuna`` extra).

:func:`optimize` drives an optuna study with trials in flight (ask/tell): it
takes a trial, suggests the arguments from the search space, starts the run
through :class:`~._runs.Runs`, waits for it through the client's shared
watcher, and tells the study the run's value of the objective, a result
column of the workflow, read from the leaderboard (one leaderboard request
for all the trials whose runs ended in the same tick). A run that ends in
ERROR or CANCELED is a failed trial. ``trial.user_attrs["run_id"]`` and
``["group_id"]`` name each trial's run.

Exactly ``n_trials`` trials, across processes
------------------------------------------------
Several processes (or machines) may drive one study through an optuna storage
(a journal file, an RDB such as PostgreSQL). ``n_trials`` is the study's total
(trials already in it count), and no process creates a trial numbered
``n_trials`` or more. optuna's ``ask()`` cannot promise that (two processes
asking at once both create a trial), so trials are made as a chain of
*tokens*: a token is a WAITING trial; taking one is the storage's atomic
WAITING -> RUNNING claim (what ``ask()`` does with enqueued trials), and only
the process that took token ``k`` creates the next one (``user_attrs
["aioflowserv.after"] = k``), and only while the study holds fewer than
``n_trials`` trials. One token exists at a time, so trials are created one
after the other. The first token of a chain (a new study, or a study whose
chain ended below a larger ``n_trials``) is created by the one process that
creates the storage's marker study ``<study name>:aioflowserv:<trials>``
(creating a study of an existing name fails: the storage decides the winner).

Restarting
----------
A trial records who drives it (``aioflowserv.worker``: the ``worker`` name,
by default the group id), then its arguments (``aioflowserv.intent``, with the
time) before its run is started, then the run (``run_id``). A process started
again with the same study, group and worker attaches to its RUNNING trials: a
trial with a run is waited for and told; a trial with an intent but no run is
matched with a run of the group made after the intent with exactly its
arguments (as a manifest resumes a batch), else started; a trial taken but
not yet suggested is suggested and started. A token whose successor is
missing (the process died just after taking it) gets it then.

Limits (said in the guide too): a process killed in the instant between
taking a token and creating the next one (two storage writes in a row) leaves
a RUNNING trial that no process attaches to, and the chain stops there; the
others wait (with a warning naming the trial) until it is told, for instance
``study.tell(number, state=TrialState.FAIL)``. Processes sharing one group
must have distinct ``worker`` names. Trials created by other means (another
``study.optimize``, ``enqueue_trial``) count towards ``n_trials`` too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.lowlevel
import attrs

from ._arguments import cast, prepare_arguments
from ._config import RESOLVE_SKEW, check_count
from ._errors import (
    ArgumentError,
    FlowservError,
    InvalidArgumentError,
    UnknownParameterError,
    add_note,
)
from ._models import Parameter, Run
from ._progress import open_progress
from ._space import Integers, Uniform
from ._submit import aware, same_arguments

if TYPE_CHECKING:
    from ._progress import Progress
    from ._results import WorkflowResults
    from ._runs import Runs
    from ._watch import WaitOptions

__all__ = [
    "AFTER",
    "ERROR",
    "INTENT",
    "OPTUNA_MISSING",
    "RUN_ID",
    "GROUP_ID",
    "RUN_STATE",
    "WORKER",
    "Space",
    "import_optuna",
    "optimize",
    "resolve_space",
]

logger = logging.getLogger("aioflowserv")

RUN_ID = "run_id"
"""The user attribute naming a trial's run."""
GROUP_ID = "group_id"
"""The user attribute naming the group of a trial's run."""
RUN_STATE = "run_state"
"""The user attribute with the final state of a trial's run."""
WORKER = "aioflowserv.worker"
"""The user attribute naming the process (``worker``) that drives a trial."""
INTENT = "aioflowserv.intent"
"""The user attribute with a trial's arguments (wire form) and when its start was sent."""
AFTER = "aioflowserv.after"
"""The user attribute of a token: the number of the trial whose taker made it (None: first)."""
ERROR = "aioflowserv.error"
"""The user attribute saying why a trial failed without a failed run (no value, no start)."""
OPTUNA_MISSING = "optimize() needs optuna: pip install 'aioflowserv[optuna]'"
"""The message when optuna is not installed."""

STALL_WARNING = 60.0
"""Seconds without a trial to take, nothing in flight, before a warning says what blocks."""


def import_optuna() -> Any:
    """The optuna module (the ``optuna`` extra), or an ImportError naming the extra."""
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
        raise ImportError(OPTUNA_MISSING) from exc
    return optuna


# -- the search space ---------------------------------------------------------------------


def _declared(para: Parameter, optuna: Any) -> Any:
    """The distribution of a declared range or choice, or None (the default is kept)."""
    dists = optuna.distributions
    if para.dtype == "select" and para.values:
        return dists.CategoricalDistribution([option.value for option in para.values])
    if para.range is None or para.dtype not in ("float", "int"):
        return None
    low, high = para.range.low, para.range.high
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    if para.dtype == "int":
        open_low, open_high = para.range.low_open, para.range.high_open
        low_int = math.floor(low) + 1 if open_low and low.is_integer() else math.ceil(low)
        high_int = math.ceil(high) - 1 if open_high and high.is_integer() else math.floor(high)
        return dists.IntDistribution(low_int, high_int) if low_int <= high_int else None
    if para.range.low_open:
        low = math.nextafter(low, math.inf)
    if para.range.high_open:
        high = math.nextafter(high, -math.inf)
    return dists.FloatDistribution(low, high)


def _given(name: str, spec: Any, optuna: Any) -> Any:
    """A distribution from what the caller wrote for one parameter, or the value to fix."""
    dists = optuna.distributions
    if isinstance(spec, dists.BaseDistribution):
        return spec
    if isinstance(spec, Uniform):
        return dists.FloatDistribution(spec.low, spec.high, log=spec.log)
    if isinstance(spec, Integers):
        return dists.IntDistribution(spec.low, spec.high)
    if isinstance(spec, tuple):
        if len(spec) != 2 or not all(
            isinstance(bound, (int, float)) and not isinstance(bound, bool) for bound in spec
        ):
            raise InvalidArgumentError(
                name, f"a range is (low, high) with two numbers, got {spec!r}"
            )
        low, high = spec
        if isinstance(low, int) and isinstance(high, int):
            return dists.IntDistribution(low, high)
        return dists.FloatDistribution(float(low), float(high))
    if isinstance(spec, list):
        if not spec:
            raise InvalidArgumentError(name, "a list of choices cannot be empty")
        return dists.CategoricalDistribution(spec)
    return _Fixed(spec)


@attrs.frozen
class _Fixed:
    value: Any


@attrs.frozen
class Space:
    """What a trial suggests (optuna distributions by name) and the arguments it fixes."""

    distributions: Mapping[str, Any]
    fixed: Mapping[str, Any]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """A trial's arguments: each distribution suggested (public ``suggest_*``), the fixed."""
        optuna = import_optuna()
        dists = optuna.distributions
        arguments = dict(self.fixed)
        for name, dist in self.distributions.items():
            if isinstance(dist, dists.CategoricalDistribution):
                arguments[name] = trial.suggest_categorical(name, list(dist.choices))
            elif isinstance(dist, dists.IntDistribution):
                arguments[name] = trial.suggest_int(
                    name, dist.low, dist.high, step=dist.step, log=dist.log
                )
            else:
                arguments[name] = trial.suggest_float(
                    name, dist.low, dist.high, step=dist.step, log=dist.log
                )
        return arguments


def resolve_space(parameters: Mapping[str, Parameter], space: Mapping[str, Any] | None) -> Space:
    """The search space: the declared ranges and choices, overridden by ``space``.

    A float or int parameter with a finite declared ``range`` is suggested
    in it, a select among its choices; other parameters keep their defaults.
    In ``space``, an optuna distribution, a ``(low, high)`` tuple (ints:
    integers) or a list of choices is suggested; ``None`` keeps the default;
    any other value is fixed. Every bound and choice is checked against the
    declarations first (:class:`InvalidArgumentError` naming the parameter).
    """
    optuna = import_optuna()
    given = dict(space or {})
    if space is not None and not isinstance(space, Mapping):
        raise InvalidArgumentError("space", f"expected a mapping, got {type(space).__name__}")
    for name in given:
        if name not in parameters:
            raise UnknownParameterError(str(name), known=list(parameters))
    distributions: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    for para in sorted(parameters.values(), key=lambda p: p.index):
        if para.name in given:
            spec = None if given[para.name] is None else _given(para.name, given[para.name], optuna)
        else:
            spec = _declared(para, optuna)
        if spec is None:
            continue
        try:
            if isinstance(spec, _Fixed):
                fixed[para.name] = spec.value
                cast(para, spec.value)
            else:
                for value in _probes(spec, optuna):
                    cast(para, value)
                distributions[para.name] = spec
        except ArgumentError as exc:
            add_note(exc, "in the search space of optimize()")
            raise
    prepare_arguments(parameters, fixed)  # files and required parameters: same rules
    return Space(distributions, fixed)


def _probes(dist: Any, optuna: Any) -> Sequence[Any]:
    """Values a distribution can suggest that a declaration must accept: bounds, choices."""
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return list(dist.choices)
    return [dist.low, dist.high]


# -- the trials ---------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class _Chain:
    """The study's trials as tokens (see the module docstring); the one user of its storage.

    optuna has no public way to claim a WAITING trial without ``ask()``
    creating one when none is left, so this reads ``study._storage`` and
    ``study._study_id`` (as optuna's own ``ask()`` does).
    """

    def __init__(self, study: Any, n_trials: int) -> None:
        self.optuna = import_optuna()
        self.study = study
        self.n_trials = n_trials
        self.storage = study._storage
        self.study_id = study._study_id

    def trials(self, states: tuple[Any, ...] | None = None) -> list[Any]:
        """The study's trials (fresh from the storage), by number."""
        return list(self.storage.get_all_trials(self.study_id, deepcopy=False, states=states))

    def take(self) -> tuple[int | None, bool]:
        """Claim a WAITING trial: its id (None: none to take) and whether more may come.

        Taking a token makes the next one while the study has fewer than
        ``n_trials`` trials. With no WAITING trial, a chain that ended below
        ``n_trials`` (or none yet) is started by the winner of its marker study.
        """
        TrialState = self.optuna.trial.TrialState
        trials = self.trials()
        raced = False
        for trial in trials:
            if trial.state != TrialState.WAITING:
                continue
            try:
                claimed = self.storage.set_trial_state_values(trial._trial_id, TrialState.RUNNING)
            except self.optuna.exceptions.UpdateFinishedTrialError:
                claimed = False
            if not claimed:  # another process took it since the trials were read
                raced = True
                continue
            if AFTER in trial.user_attrs:
                self.extend(trial.number)
            return trial._trial_id, True
        if raced:
            # What was read is stale: the token taken meanwhile makes its successor. Deciding
            # from it that the chain ended would start a second chain (one trial too many).
            return None, True
        if len(trials) >= self.n_trials:
            return None, False
        if self.blocked(trials) is None and self.restart_chain(len(trials)):
            return self.take()
        return None, True

    def extend(self, after: int) -> None:
        """Make the token that follows trial ``after`` (once), if the study is not full."""
        trials = self.trials()
        if len(trials) < self.n_trials and not any(
            t.user_attrs.get(AFTER) == after for t in trials if AFTER in t.user_attrs
        ):
            self.study.enqueue_trial({}, user_attrs={AFTER: after})

    def blocked(self, trials: Sequence[Any]) -> Any:
        """The RUNNING token still to make its successor (its taker is at it), or None."""
        TrialState = self.optuna.trial.TrialState
        followed = {t.user_attrs.get(AFTER) for t in trials}
        for trial in trials:
            if (AFTER in trial.user_attrs and trial.state == TrialState.RUNNING
                    and trial.number not in followed):
                return trial
        return None

    def restart_chain(self, count: int) -> bool:
        """Start a chain: the process that creates the marker study makes the first token.

        True when this process made it.
        """
        name = f"{self.study.study_name}:aioflowserv:{count}"
        try:
            self.storage.create_new_study(
                directions=[self.optuna.study.StudyDirection.MINIMIZE], study_name=name
            )
        except self.optuna.exceptions.DuplicatedStudyError:
            return False
        fresh = self.trials()
        waiting = any(t.state == self.optuna.trial.TrialState.WAITING for t in fresh)
        if len(fresh) >= self.n_trials or waiting or self.blocked(fresh) is not None:
            return False  # the chain is alive after all (read again now)
        self.study.enqueue_trial({}, user_attrs={AFTER: None})
        return True

    def mine(self, worker: str, group_id: str) -> list[Any]:
        """RUNNING trials this worker drives in this group (a restarted process's), by number."""
        TrialState = self.optuna.trial.TrialState
        return [
            t for t in self.trials((TrialState.RUNNING,))
            if t.user_attrs.get(WORKER) == worker and t.user_attrs.get(GROUP_ID) == group_id
        ]


@attrs.define
class _Ended:
    """A trial whose run ended (or could not start / be watched), to tell the study."""

    trial_id: int
    run: Run | None
    error: str | None = None


class _Optimizer:
    """One call of :func:`optimize`: the trials in flight, the teller, the display."""

    def __init__(
        self,
        runs: Runs,
        results: WorkflowResults,
        group_id: str,
        parameters: Mapping[str, Parameter],
        study: Any,
        *,
        objective: str,
        space: Space,
        chain: _Chain,
        worker: str,
        options: WaitOptions,
        progress: Progress | None,
    ) -> None:
        self.optuna = import_optuna()
        self.runs = runs
        self.results = results
        self.group_id = group_id
        self.parameters = parameters
        self.study = study
        self.objective = objective
        self.space = space
        self.chain = chain
        self.worker = worker
        self.options = options
        self.progress = progress

    def _trial(self, trial_id: int) -> Any:
        return self.optuna.trial.Trial(self.study, trial_id)

    async def run(self, max_active: int) -> None:
        """Attach to this worker's trials, then take trials until the study is full."""
        slots = anyio.Semaphore(max_active)
        send, receive = anyio.create_memory_object_stream[_Ended](math.inf)
        async with anyio.create_task_group() as outer:
            outer.start_soon(self._teller, receive, slots)
            async with send, anyio.create_task_group() as trials:
                for frozen in self.chain.mine(self.worker, self.group_id):
                    if AFTER in frozen.user_attrs:
                        self.chain.extend(frozen.number)  # died before making the next token
                    await slots.acquire()
                    trials.start_soon(self._resume, frozen, send.clone())
                await self._take_all(slots, trials, send)

    async def _take_all(
        self, slots: anyio.Semaphore, trials: anyio.abc.TaskGroup, send: Any
    ) -> None:
        idle_since: float | None = None
        while True:
            await slots.acquire()
            trial_id, more = self.chain.take()
            if trial_id is not None:
                idle_since = None
                trials.start_soon(self._fresh, trial_id, send.clone())
                continue
            slots.release()
            if not more:
                return
            # No trial to take yet: another process is making the next token.
            now = anyio.current_time()
            idle_since = now if idle_since is None else idle_since
            if now - idle_since >= STALL_WARNING:
                idle_since = now
                self._warn_stalled()
            await anyio.sleep(self.options.poll_interval)

    def _warn_stalled(self) -> None:
        blocking = self.chain.blocked(self.chain.trials())
        which = f"trial {blocking.number}" if blocking is not None else "no trial"
        logger.warning(
            "optimize: no trial to take for %.0f s and the study holds fewer than %d trials; "
            "%s is RUNNING without the trial that should follow it (its process may have "
            "died while taking it: tell it, e.g. study.tell(%s, state=TrialState.FAIL))",
            STALL_WARNING, self.chain.n_trials, which,
            blocking.number if blocking is not None else "N",
        )

    async def _fresh(self, trial_id: int, send: Any) -> None:
        async with send:
            trial = self._trial(trial_id)
            trial.set_user_attr(WORKER, self.worker)
            trial.set_user_attr(GROUP_ID, self.group_id)
            await self._start_and_wait(trial_id, self.space.suggest(trial), send)

    async def _start_and_wait(self, trial_id: int, arguments: dict[str, Any], send: Any) -> None:
        prepared = prepare_arguments(self.parameters, arguments)
        wire = [{"name": name, "value": value} for name, value in prepared]
        storage = self.chain.storage
        storage.set_trial_user_attr(trial_id, INTENT, {"arguments": wire, "at": _now()})
        try:
            run = await self.runs.start(self.group_id, self.parameters, arguments, self.options)
        except FlowservError as exc:
            await send.send(_Ended(trial_id, None, f"the run could not be started: {exc}"))
            return
        storage.set_trial_user_attr(trial_id, RUN_ID, run.run_id)
        await self._wait(trial_id, run, send)

    async def _wait(self, trial_id: int, run: Run | str, send: Any) -> None:
        try:
            final = await self.runs.wait(run, self.options, group_id=self.group_id)
        except FlowservError as exc:
            await send.send(_Ended(trial_id, None, f"the run could not be watched: {exc}"))
            return
        await send.send(_Ended(trial_id, final))

    async def _resume(self, frozen: Any, send: Any) -> None:
        """Attach to a RUNNING trial of this worker: its run, its intent's run, or a start."""
        async with send:
            trial_id = frozen._trial_id
            run_id = frozen.user_attrs.get(RUN_ID)
            if run_id:
                logger.info("optimize: trial %d attaches to its run %s", frozen.number, run_id)
                await self._wait(trial_id, str(run_id), send)
                return
            intent = frozen.user_attrs.get(INTENT)
            if intent:
                found = await self._match(intent)
                if found is not None:
                    logger.info("optimize: trial %d attaches to run %s, started before the "
                                "restart", frozen.number, found.run_id)
                    self.chain.storage.set_trial_user_attr(trial_id, RUN_ID, found.run_id)
                    await self._wait(trial_id, found, send)
                    return
                wire = intent.get("arguments") or []
                arguments = {item["name"]: item["value"] for item in wire}
                await self._start_and_wait(trial_id, arguments, send)
                return
            trial = self._trial(trial_id)
            await self._start_and_wait(trial_id, self.space.suggest(trial), send)

    async def _match(self, intent: Mapping[str, Any]) -> Run | None:
        """A run of the group made after ``intent`` with its arguments, not another trial's."""
        try:
            sent_at = aware(datetime.fromisoformat(str(intent["at"]))) - RESOLVE_SKEW
        except (KeyError, ValueError):
            sent_at = None
        claimed = {t.user_attrs.get(RUN_ID) for t in self.chain.trials()}
        infos = [
            info for info in await self.runs.list_runs(self.group_id)
            if info.run_id not in claimed and (
                sent_at is None or info.created_at is None or aware(info.created_at) >= sent_at
            )
        ]
        for run in await self.runs.get_runs([info.run_id for info in infos]):
            if same_arguments(run.doc.get("arguments"), intent.get("arguments")):
                return run
        return None

    async def _teller(self, receive: Any, slots: anyio.Semaphore) -> None:
        """Tell the study each ended trial; one leaderboard for all that ended in one tick."""
        async with receive:
            async for first in receive:
                ended = [first]
                for _ in range(3):  # let the waits woken by the same tick report too
                    await anyio.lowlevel.checkpoint()
                while True:
                    try:
                        ended.append(receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                try:
                    await self._tell(ended)
                finally:
                    for _ in ended:
                        slots.release()

    async def _tell(self, ended: Sequence[_Ended]) -> None:
        TrialState = self.optuna.trial.TrialState
        values: dict[str, Any] = {}
        if any(item.run is not None and item.run.is_success() for item in ended):
            board = await self.results.leaderboard(include_all=True)
            if board is not None:
                values = {row.run_id: row.results.get(self.objective) for row in board.rows}
        storage = self.chain.storage
        for item in ended:
            run, error = item.run, item.error
            if self.progress is not None and run is not None:
                self.progress.update(run)
            value = None
            if run is not None:
                storage.set_trial_user_attr(item.trial_id, RUN_STATE, run.state.value)
                if run.is_success():
                    value = values.get(run.run_id)
                    if not isinstance(value, (int, float)) or isinstance(value, bool) or (
                        isinstance(value, float) and math.isnan(value)
                    ):
                        value = None
                        error = (f"run {run.run_id} has no {self.objective!r} value in the "
                                 "leaderboard")
            if error is not None:
                storage.set_trial_user_attr(item.trial_id, ERROR, error)
                logger.warning("optimize: trial failed: %s", error)
            number = storage.get_trial_number_from_id(item.trial_id)
            if value is None:
                self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
            else:
                self.study.tell(number, float(value), skip_if_finished=True)


async def _check_objective(results: WorkflowResults, objective: str, study: Any) -> None:
    if not isinstance(objective, str) or not objective:
        raise InvalidArgumentError("objective", f"expected a result column name, got {objective!r}")
    if len(study.directions) != 1:
        raise InvalidArgumentError(
            "study", "optimize() tells one value per trial: use a single-objective study"
        )
    board = await results.leaderboard()
    if board is None:
        raise InvalidArgumentError(
            "objective", f"workflow {results.workflow_id!r} has no results schema, so its runs "
            "have no value to optimize",
        )
    columns = {column.name: column for column in board.columns}
    if objective not in columns:
        raise InvalidArgumentError(
            "objective", f"{objective!r} is not a result column of workflow "
            f"{results.workflow_id!r} (its results schema has {', '.join(columns) or 'none'})",
        )
    if columns[objective].dtype not in ("int", "float"):
        raise InvalidArgumentError(
            "objective", f"result column {objective!r} is a {columns[objective].dtype}, "
            "not a number",
        )


async def optimize(
    runs: Runs,
    results: WorkflowResults,
    group_id: str,
    parameters: Mapping[str, Parameter],
    study: Any,
    *,
    objective: str,
    n_trials: int,
    max_active: int,
    space: Mapping[str, Any] | None,
    worker: str | None,
    options: WaitOptions,
    progress: bool | None,
) -> Any:
    """Run the study's trials as runs of ``group_id`` until it holds ``n_trials``; the study.

    See :meth:`AsyncWorkflow.optimize` and the module docstring.
    """
    optuna = import_optuna()
    if not isinstance(study, optuna.study.Study):
        raise InvalidArgumentError(
            "study", f"expected an optuna.Study (optuna.create_study()), got {type(study).__name__}"
        )
    n_trials = check_count(n_trials, "n_trials")
    max_active = check_count(max_active, "max_active")
    if worker is not None and (not isinstance(worker, str) or not worker):
        raise InvalidArgumentError("worker", f"expected a non-empty name, got {worker!r}")
    resolved = resolve_space(parameters, space)
    await _check_objective(results, objective, study)
    chain = _Chain(study, n_trials)
    finished = len(chain.trials((optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL,
                                 optuna.trial.TrialState.PRUNED)))
    display = open_progress(progress, total=max(0, n_trials - finished),
                            title=f"optimize {study.study_name} ({objective})")
    if display is not None:
        options = attrs.evolve(options, on_change=display.update)  # starts and state changes
    optimizer = _Optimizer(
        runs, results, group_id, parameters, study, objective=objective, space=resolved,
        chain=chain, worker=worker or group_id, options=options, progress=display,
    )
    if display is None:
        await optimizer.run(max_active)
    else:
        with display:
            await optimizer.run(max_active)
    return study

