"""One process of a shared optuna study: ``python tests/support/optimize_worker.py SPEC.json``.

The tests start several of these (and kill and restart one) to check that
processes sharing a study through an optuna storage make exactly
``n_trials`` trials, one run each. SPEC is a JSON file: ``url``, ``token``,
``group_id``, ``storage`` (a journal file path, or an SQLAlchemy URL),
``study``, ``n_trials``, ``max_active``, ``worker``, ``sleep`` and ``seed``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import optuna

import aioflowserv as afs


def storage_for(spec: str) -> Any:
    """A journal file storage for a path, an RDB storage for a URL."""
    if "://" in spec:
        return optuna.storages.RDBStorage(spec)
    backend = optuna.storages.journal.JournalFileBackend(spec)
    return optuna.storages.JournalStorage(backend)


def main(path: str) -> None:
    with open(path, encoding="utf-8") as file:
        spec = json.load(file)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=spec["study"], storage=storage_for(spec["storage"]), direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=spec["seed"]), load_if_exists=True,
    )
    with afs.Flowserv(spec["url"], spec["token"]) as fs:
        wf = fs.workflow("quadratic", spec["group_id"])
        wf.optimize(
            study, objective="score", n_trials=spec["n_trials"], max_active=spec["max_active"],
            space={"sleep": spec["sleep"], "noise": 0.0}, worker=spec["worker"],
            poll_interval=0.1, max_interval=0.5,
        )
    print("done", spec["worker"], flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
