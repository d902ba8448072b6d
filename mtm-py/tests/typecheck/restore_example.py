"""The README's restore example, type-checked with `mypy --strict` by test_typing.py."""

from datetime import date

import mtm


class Mailer:
    def notify(self, notification: mtm.Notification) -> None:
        print(notification.kind.value, notification.recipient or "admins", notification.request.id)


repo = mtm.Repository.open("/srv/mtm")
desk = mtm.RestoreDesk(repo, "/var/mail/maildirs", pricing=mtm.Pricing("EUR", base=500, per_gib=200), notifier=Mailer())
alice = mtm.Actor.user("alice@example.com")
asked = desk.request(alice, "alice@example.com", date(2026, 11, 18), mtm.Scope.folders(["Projects"]))
assert asked.plan is not None
print(f"{asked.request.id}: {asked.plan.messages} messages to restore by {asked.request.deadline}")
done = desk.approve(mtm.Actor.admin("carol"), str(asked.request.id))  # bills, restores, tells alice
print(done.request.state, done.result, done.billed, done.problems)
for entry in desk.audit(alice, asked.request.id):
    print(entry.at, entry.actor, entry.event, entry.action or "")
