"""Memory of a process tree, for the request and import benchmarks."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path


def _pss_kb(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


class TreeMemorySampler(threading.Thread):
    """Peak memory of a process tree, sampled every 0.2 s: resident (sum and largest process)
    and, when asked, proportional (PSS: a page shared by processes, as after a fork, counts
    once in the sum; reading it walks the page tables, so only where it is needed)."""

    def __init__(self, root_pid: int, *, proportional: bool = False) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.proportional = proportional
        self.peak_total_kb = 0
        self.peak_process_kb = 0
        self.peak_pss_total_kb = 0
        self.processes = 0
        self._halt = threading.Event()

    def tree(self) -> list[int]:
        pids = [self.root_pid]
        index = 0
        while index < len(pids):
            pid = pids[index]
            index += 1
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    pids.extend(int(child) for child in task.read_text().split())
        return pids

    def sample(self) -> None:
        total = 0
        largest = 0
        pids = self.tree()
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        kb = int(line.split()[1])
                        total += kb
                        largest = max(largest, kb)
            except OSError:
                continue
        self.processes = max(self.processes, len(pids))
        self.peak_total_kb = max(self.peak_total_kb, total)
        self.peak_process_kb = max(self.peak_process_kb, largest)
        if self.proportional:
            self.peak_pss_total_kb = max(self.peak_pss_total_kb, sum(map(_pss_kb, pids)))

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(0.2)

    def stop(self) -> None:
        self._halt.set()
        self.join()
