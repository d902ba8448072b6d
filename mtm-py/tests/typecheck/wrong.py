"""Misuses the API: `mypy --strict` must reject every marked line (see test_typing.py)."""

from datetime import date

import mtm

repo = mtm.Repository.open("/srv/mtm")
account = repo.account("alice@example.com")
day: date = account.days()[0]
count: int = account.raw(day, "ab" * 32)  # bytes is not int
account.messages(day, sort="subject")  # a SortKey, not a str
subject: int = account.messages(day).messages[0].summary.subject  # str is not int
repo.snapshot("alice@example.com", 42)  # a path, not an int
repo.prune(account.diff(day, day))  # a SnapshotDiff is not a PrunePlan
flagged: bool = mtm.Flag.SEEN in account.history("ab" * 32)[0].flags and "S"  # str is not bool
desk = mtm.RestoreDesk(repo, "/srv/mail", notifier=print)  # print has no notify()
desk.approve("carol", "alice@example.com/1")  # an Actor, not a str
state: str = desk.get(mtm.Actor.admin("carol"), "alice@example.com/1").request.state  # RequestState is not str
