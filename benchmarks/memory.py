"""Peak resident memory of a process tree, sampled in a thread (shared by the benchmark scripts)."""
from __future__ import annotations

import threading
import time


class PeakRSS:
    """The largest RSS seen of one process (default: this one) and of each of its descendants.

    Parameters
    ----------
    pid : int | None
        The root process; None for this process.
    interval : float
        Seconds between samples.

    Attributes
    ----------
    root : int
        Peak RSS of the root process, in bytes.
    children : dict
        ``{pid: peak RSS in bytes}`` of each descendant seen.
    """

    def __init__(self, pid: int | None = None, interval: float = 0.25):
        import psutil

        self.process = psutil.Process(pid)
        self.interval, self.root, self.children = interval, 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                self.root = max(self.root, self.process.memory_info().rss)
                descendants = self.process.children(recursive=True)
            except psutil.Error:  # the root ended
                return
            for child in descendants:
                try:
                    rss = child.memory_info().rss
                except psutil.Error:
                    continue
                self.children[child.pid] = max(self.children.get(child.pid, 0), rss)
            time.sleep(self.interval)

    def largest_children(self, n: int) -> list[float]:
        """The ``n`` largest child peaks, in MB."""
        return [r / 2**20 for r in sorted(self.children.values(), reverse=True)[:n]]

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
