# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded concurrency for bulk writes: a few keep-alive connections, results in the objects' order.

Private to the kubeops.platform collection: no compatibility promise outside it.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable, TypeVar

from ansible_collections.kubeops.platform.plugins.module_utils._client import K8sClient

PARALLEL_OPTIONS = {"parallel": {"type": "int", "default": 8}}
MAX_PARALLEL = 64

Item = TypeVar("Item")
Result = TypeVar("Result")


def check_parallel(parallel: int | None) -> int:
    if parallel is None or not 1 <= parallel <= MAX_PARALLEL:
        raise ValueError(f"parallel must be from 1 to {MAX_PARALLEL} (1 writes one object at a time), got {parallel}")
    return parallel


class Stopped(Exception):
    """A piece of work failed: ``done`` holds the results of the work that completed, in order."""

    def __init__(self, error: BaseException, done: list):
        super().__init__(str(error))
        self.error = error
        self.done = done


class Workers:
    """Run work over ``parallel`` connections to the API server; one runs inline on the task's client.

    Each worker thread has its own client (and so its own keep-alive connection), made from the
    task's resolved connection: no kubeconfig is read and no credential plugin is run again.
    """

    def __init__(self, client: K8sClient, parallel: int):
        self.client = client
        self.parallel = check_parallel(parallel)
        self._local = threading.local()
        self._clients: list[K8sClient] = []
        self._lock = threading.Lock()

    def _thread_client(self) -> K8sClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self.client.fork()
            with self._lock:
                self._clients.append(client)
            self._local.client = client
        return client

    def map(self, work: Callable[[K8sClient, Item], Result], items: Iterable[Item]) -> list[Result]:
        """``work(client, item)`` for every item, at most ``parallel`` at once; results in item order.

        The first failure stops new work; work already running finishes. Then :class:`Stopped`
        is raised with the first failure (in item order) and every result that completed, in order.
        """
        items = list(items)
        if self.parallel == 1 or len(items) <= 1:
            done: list = []
            for item in items:
                try:
                    done.append(work(self.client, item))
                except Exception as exc:  # noqa: BLE001 - reported with what was done
                    raise Stopped(exc, done) from exc
            return done
        # Imported here: a task that writes one object (the common case) never needs the pool.
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        results: dict[int, Result] = {}
        errors: dict[int, BaseException] = {}
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            running: dict = {}  # future -> index of its item
            queue = list(enumerate(items))
            while queue or running:
                while queue and len(running) < self.parallel and not errors:
                    index, item = queue.pop(0)
                    running[pool.submit(lambda it=item: work(self._thread_client(), it))] = index
                if not running:
                    break
                finished, _pending = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = running.pop(future)
                    try:
                        results[index] = future.result()
                    except Exception as exc:  # noqa: BLE001 - reported with what was done
                        errors[index] = exc
        if errors:
            first = min(errors)
            raise Stopped(errors[first], [results[i] for i in sorted(results)]) from errors[first]
        return [results[i] for i in range(len(items))]

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
