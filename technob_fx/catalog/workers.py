"""Worker-side state of batch jobs: the demucs model cache (a Dask worker plugin).

Imported only where Dask runs (it imports :mod:`distributed`).
"""

from __future__ import annotations

import threading
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin


class ModelCache(WorkerPlugin):
    """Worker plugin holding the demucs models a worker has loaded: one load per worker, not per task.

    :func:`~technob_fx.catalog.batch.run_batch` registers it for demucs jobs; a task gets its
    model with :func:`worker_model`. ``loads`` counts the loads on this worker.
    """

    name = "technob-model-cache"

    def __init__(self) -> None:
        self.models: dict[tuple[str, str | None, str], Any] = {}
        self.loads = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"models": {}, "loads": 0}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def teardown(self, worker: Any) -> None:
        """Drop the models when the worker closes."""
        self.models.clear()

    def get(self, name: str, repo: str | None, device: str) -> Any:
        """The model ``name`` on ``device``, loaded on first use (thread-safe)."""
        from ..stages.stems import load_model

        key = (name, repo, device)
        with self._lock:
            if key not in self.models:
                model = load_model(name, repo)
                if device != "cpu":
                    model.to(device)
                self.models[key] = model
                self.loads += 1
            return self.models[key]


_LOCAL = ModelCache()


def worker_model(name: str, repo: str | None, device: str) -> Any:
    """The model from the current worker's :class:`ModelCache` (a process-wide one off a worker)."""
    from distributed import get_worker

    try:
        plugin = get_worker().plugins.get(ModelCache.name)
    except ValueError:  # not on a worker
        plugin = None
    return (plugin or _LOCAL).get(name, repo, device)
