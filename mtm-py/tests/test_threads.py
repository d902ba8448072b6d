"""Long calls release the GIL: other Python threads run during a snapshot, and a thread
pool snapshots several accounts at once."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List

import mtm
from conftest import DAY1, Maildir, mail


def big_maildir(root: Path, messages: int, size: int) -> Maildir:
    box = Maildir(root)
    for i in range(messages):
        box.add(mail(f"message {i}", body=os.urandom(size).hex() + "\n"))
    return box


def test_another_thread_keeps_running_during_a_snapshot(tmp_path: Path) -> None:
    """The ticker thread records a timestamp every millisecond. With the GIL held through the
    snapshot it could not run at all, and its longest gap would be the whole snapshot; with
    the GIL released it only waits for the OS scheduler."""
    box = big_maildir(tmp_path / "big", messages=600, size=16 * 1024)
    with mtm.Repository.init(tmp_path / "repo", header_dictionary=False) as repo:
        ticks: List[float] = []
        stop = threading.Event()

        def ticker() -> None:
            while not stop.is_set():
                ticks.append(time.perf_counter())
                time.sleep(0.001)

        thread = threading.Thread(target=ticker)
        thread.start()
        time.sleep(0.05)
        start = time.perf_counter()
        report = repo.snapshot("big@example.com", box.root, now=DAY1, threads=1)
        end = time.perf_counter()
        time.sleep(0.05)
        stop.set()
        thread.join()

    duration = end - start
    assert report.messages == 600
    # The measurement means something only if the snapshot is long next to a tick.
    assert duration > 0.15, f"snapshot too quick ({duration:.3f} s) to measure; grow the workload"
    during = [t for t in ticks if start <= t <= end]
    window = [start] + during + [end]
    longest_gap = max(b - a for a, b in zip(window, window[1:]))
    print(f"snapshot {duration:.3f} s, {len(during)} ticks, longest gap {longest_gap:.4f} s")
    assert longest_gap < duration / 4, f"longest gap {longest_gap:.3f} s of a {duration:.3f} s snapshot"
    assert len(during) > 20, f"only {len(during)} ticks in {duration:.3f} s"


def test_a_thread_pool_snapshots_accounts_in_parallel(tmp_path: Path) -> None:
    names = [f"user{i}@example.com" for i in range(4)]
    boxes = {}
    for name in names:
        box = Maildir(tmp_path / "maildirs" / name)
        box.add(mail("the same newsletter", body="news\n" * 500))
        for i in range(20):
            box.add(mail(f"{name} private {i}"))
        boxes[name] = box
    with mtm.Repository.init(tmp_path / "repo") as repo:
        with ThreadPoolExecutor(max_workers=4) as pool:
            reports = list(pool.map(lambda n: repo.snapshot(n, boxes[n].root, now=DAY1, threads=1), names))
        assert [r.account for r in reports] == names
        assert all(r.messages == 21 for r in reports)
        assert repo.accounts() == names
        for name in names:
            account = repo.account(name)
            day = account.days()[0]
            newsletter = account.search(subject="newsletter")[0]
            assert account.raw(day, newsletter.id) == mail("the same newsletter", body="news\n" * 500)
        assert repo.verify().ok
