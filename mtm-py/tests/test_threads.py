"""Long calls release the GIL: other Python threads run during a snapshot, and a thread
pool snapshots several accounts at once."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Tuple

import mtm
from conftest import DAY1, Maildir, mail


def big_maildir(root: Path, messages: int, size: int) -> Maildir:
    box = Maildir(root)
    for i in range(messages):
        box.add(mail(f"message {i}", body=os.urandom(size).hex() + "\n"))
    return box


def measure_snapshot_beside_a_ticker(root: Path, messages: int) -> Tuple[float, float, int]:
    """Snapshots a fresh Maildir of `messages` while a ticker thread records a timestamp every
    millisecond: (duration, longest gap between ticks during the snapshot, ticks during it)."""
    box = big_maildir(root / "big", messages=messages, size=16 * 1024)
    with mtm.Repository.init(root / "repo", header_dictionary=False) as repo:
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
    assert report.messages == messages
    during = [t for t in ticks if start <= t <= end]
    window = [start] + during + [end]
    longest_gap = max(b - a for a, b in zip(window, window[1:]))
    return end - start, longest_gap, len(during)


def test_another_thread_keeps_running_during_a_snapshot(tmp_path: Path) -> None:
    """The ticker thread records a timestamp every millisecond. With the GIL held through the
    snapshot it could not run at all, and its longest gap would be the whole snapshot; with
    the GIL released it only waits for the OS scheduler. The measurement means something only
    if the snapshot is long next to a tick, so the workload grows until it is (a fast idle
    machine snapshots 600 messages in well under 0.15 s)."""
    for attempt, messages in enumerate([600, 2400, 9600]):
        duration, longest_gap, ticks = measure_snapshot_beside_a_ticker(tmp_path / str(attempt), messages)
        if duration > 0.15:
            break
    print(f"snapshot of {messages} messages {duration:.3f} s, {ticks} ticks, longest gap {longest_gap:.4f} s")
    assert duration > 0.15, f"snapshot too quick ({duration:.3f} s) to measure even with {messages} messages"
    assert longest_gap < duration / 4, f"longest gap {longest_gap:.3f} s of a {duration:.3f} s snapshot"
    assert ticks > 20, f"only {ticks} ticks in {duration:.3f} s"


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
