"""Snapshot a Maildir the test builds, then browse it: days, folders, pages, bytes, views."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

import mtm
from conftest import ALICE, DAY1, DAY2, Maildir, mail


def test_snapshot_report_counts_what_the_maildir_holds(repo: mtm.Repository, maildir: Maildir) -> None:
    maildir.add(mail("one"), flags="S")
    maildir.add(mail("two"), folder="Archive/2024")
    maildir.folder("Old", subscribed=False)
    report = repo.snapshot(ALICE, maildir.root, now=DAY1)
    assert isinstance(report, mtm.SnapshotReport)
    assert (report.account, report.day) == (ALICE, date(2026, 11, 20))
    assert (report.folders, report.messages, report.new_messages) == (3, 2, 2)
    assert report.bytes == len(mail("one")) + len(mail("two"))
    assert report.stored_bytes > 0
    assert repo.accounts() == [ALICE]
    # Frozen, value-compared, readable.
    with pytest.raises(AttributeError):
        report.messages = 0  # type: ignore[misc]
    assert "SnapshotReport(account='alice@example.com'" in repr(report)


def test_days_follow_the_providers_time_zone(tmp_path: Path, maildir: Maildir) -> None:
    maildir.add(mail("one"))
    with mtm.Repository.init(tmp_path / "rome", time_zone="Europe/Rome") as repo:
        assert repo.time_zone == "Europe/Rome"
        # 23:30 UTC on the 20th is 00:30 on the 21st in Rome.
        report = repo.snapshot(ALICE, str(maildir.root), now=datetime(2026, 11, 20, 23, 30, tzinfo=timezone.utc))
        assert report.day == date(2026, 11, 21)
        assert repo.day_at(datetime(2026, 11, 20, 22, 59, tzinfo=timezone.utc)) == date(2026, 11, 20)
        account = repo.account(ALICE)
        assert account.days() == [date(2026, 11, 21)]
        info = account.snapshot(date(2026, 11, 21))
        assert info.taken_at == datetime(2026, 11, 20, 23, 30, tzinfo=timezone.utc)
        assert info.taken_at.tzinfo is not None
        assert (info.folders, info.messages) == (1, 1)


def test_folder_tree_lists_subscribed_and_unsubscribed(repo: mtm.Repository, maildir: Maildir) -> None:
    maildir.add(mail("in inbox"))
    maildir.add(mail("sent"), folder="Sent")
    maildir.add(mail("old"), folder="Archive/2024")
    maildir.folder("Hidden", subscribed=False)
    maildir.add(mail("hidden"), folder="Hidden")
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    folders = repo.account(ALICE).folders(date(2026, 11, 20))
    assert [(f.name, f.subscribed, f.messages) for f in folders] == [
        ("INBOX", True, 1),
        ("Archive/2024", True, 1),
        ("Hidden", False, 1),
        ("Sent", True, 1),
    ]


def test_pages_sort_and_the_iterator_walks_every_message(repo: mtm.Repository, maildir: Maildir) -> None:
    for i in range(53):
        maildir.add(mail(f"message {i:02d}"), flags="S" if i % 2 else "", received=1_763_000_000 + i)
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    account = repo.account(ALICE)
    day = account.days()[0]

    page = account.messages(day, "INBOX", sort=mtm.SortKey.SUBJECT, descending=False, offset=10, limit=5)
    assert (page.total, page.offset) == (53, 10)
    assert [m.summary.subject for m in page.messages] == [f"message {i:02d}" for i in range(10, 15)]
    assert page.messages[1].flags == frozenset({mtm.Flag.SEEN})
    assert page.messages[0].flags == frozenset()
    newest = account.messages(day, sort=mtm.SortKey.RECEIVED, limit=1).messages[0]
    assert newest.summary.subject == "message 52"
    assert newest.received == datetime.fromtimestamp(1_763_000_052, tz=timezone.utc)

    walked = list(account.iter_messages(day, sort=mtm.SortKey.SUBJECT, descending=False, page_size=7))
    assert [m.summary.subject for m in walked] == [f"message {i:02d}" for i in range(53)]
    assert len({m.id for m in walked}) == 53
    everything = account.messages(day, sort=mtm.SortKey.SUBJECT, descending=False, limit=1000)
    assert tuple(walked) == everything.messages
    # An exact multiple of the page size ends cleanly too.
    assert len(list(account.iter_messages(day, page_size=53))) == 53
    assert list(account.iter_messages(day, "INBOX", page_size=1))[0] == account.messages(day, limit=1).messages[0]


def test_raw_is_byte_exact_and_found_by_prefix(repo: mtm.Repository, maildir: Maildir) -> None:
    raw = b"From: a@example.org\r\nSubject: crlf\r\n\r\nline one\r\nno final newline"
    maildir.add(raw, flags="FS")
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    account = repo.account(ALICE)
    info = account.messages(date(2026, 11, 20)).messages[0]
    data = account.raw(date(2026, 11, 20), info.id)
    assert isinstance(data, bytes)
    assert data == raw
    assert account.raw(date(2026, 11, 20), info.id[:10]) == raw
    assert account.resolve_id(date(2026, 11, 20), info.id[:8]) == info.id
    assert account.message(date(2026, 11, 20), info.id) == info
    assert info.flags == frozenset({mtm.Flag.FLAGGED, mtm.Flag.SEEN})


def test_parsed_view_has_text_html_and_attachments(repo: mtm.Repository, maildir: Maildir) -> None:
    raw = (
        b"From: Carol <carol@example.org>\nTo: alice@example.com\nSubject: =?UTF-8?Q?R=C3=A9sum=C3=A9?=\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n"
        b"--XX\nContent-Type: multipart/alternative; boundary=YY\n\n"
        b"--YY\nContent-Type: text/plain; charset=utf-8\n\nplain body\n"
        b"--YY\nContent-Type: text/html; charset=utf-8\n\n<p>html body</p>\n--YY--\n"
        b"--XX\nContent-Type: application/octet-stream; name=data.bin\n"
        b"Content-Disposition: attachment; filename=data.bin\nContent-Transfer-Encoding: base64\n\n"
        b"AAECAwQF/w==\n--XX--\n"
    )
    maildir.add(raw)
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    account = repo.account(ALICE)
    info = account.messages(date(2026, 11, 20)).messages[0]
    view = account.parsed(date(2026, 11, 20), info.id)
    assert view.summary.subject == "Résumé"
    assert view.summary.has_attachments and info.summary.has_attachments
    assert view.text is not None and view.text.strip() == "plain body"
    assert view.html is not None and "<p>html body</p>" in view.html
    assert [h.name for h in view.headers][:3] == ["From", "To", "Subject"]
    (attachment,) = view.attachments
    assert attachment.name == "data.bin"
    assert attachment.content_type == "application/octet-stream"
    assert attachment.data == bytes([0, 1, 2, 3, 4, 5, 255])
    assert attachment.size == 7
    assert not attachment.omitted and not view.truncated
    assert account.attachment(date(2026, 11, 20), info.id, 0) == attachment.data
    assert "data=" not in repr(attachment)


def test_a_huge_attachment_and_text_are_not_decoded_into_the_view(repo: mtm.Repository, maildir: Maildir) -> None:
    import base64

    data = os.urandom(5 * 1024 * 1024)
    text = b"line after line of a very long letter\n" * 150_000
    raw = (
        b"Subject: scans\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n"
        b"--XX\nContent-Type: text/plain\n\n" + text + b"\n"
        b"--XX\nContent-Type: application/octet-stream; name=scans.tar\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(data)
        + b"--XX--\n"
    )
    maildir.add(raw)
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    account = repo.account(ALICE)
    day = date(2026, 11, 20)
    info = account.messages(day).messages[0]
    view = account.parsed(day, info.id)
    assert view.truncated
    assert view.text is not None and 0 < len(view.text) < len(text)
    (attachment,) = view.attachments
    assert attachment.omitted and attachment.data == b""
    assert attachment.size == len(data)
    assert account.attachment(day, info.id, 0) == data
    with pytest.raises(mtm.NotFoundError):
        account.attachment(day, info.id, 1)


def test_a_large_message_round_trips(repo: mtm.Repository, maildir: Maildir) -> None:
    body = os.urandom(6 * 1024 * 1024)
    raw = b"Subject: big\nContent-Type: application/octet-stream\n\n" + body
    maildir.add(raw)
    report = repo.snapshot(ALICE, maildir.root, now=DAY1)
    assert report.bytes == len(raw)
    account = repo.account(ALICE)
    info = account.messages(date(2026, 11, 20)).messages[0]
    assert info.size == len(raw)
    assert account.raw(date(2026, 11, 20), info.id) == raw


def test_a_non_utf8_message_is_stored_exactly_and_read_as_latin1(repo: mtm.Repository, maildir: Maildir) -> None:
    raw = "Subject: Café à la carte\nFrom: Zoë <zoe@example.org>\n\nDéjà vu\n".encode("latin-1") + b"\xff\xfe\x00"
    maildir.add(raw)
    garbage = b"\x00\x9f\xff binary, not mail \xc3"
    maildir.add(garbage)
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    account = repo.account(ALICE)
    day = date(2026, 11, 20)
    by_subject = {m.summary.subject: m for m in account.messages(day).messages}
    cafe = by_subject["Café à la carte"]
    assert cafe.summary.from_ == "Zoë <zoe@example.org>"
    assert account.raw(day, cafe.id) == raw
    assert account.parsed(day, cafe.id).text is not None
    unparsed = by_subject[""]
    assert unparsed.summary.parsed is False
    assert account.raw(day, unparsed.id) == garbage
    assert account.parsed(day, unparsed.id).headers == ()


def test_the_context_manager_closes_the_repository(tmp_path: Path, maildir: Maildir) -> None:
    maildir.add(mail("x"))
    with mtm.Repository.init(tmp_path / "repo") as repo:
        repo.snapshot(ALICE, maildir.root, now=DAY1)
        account = repo.account(ALICE)
        assert not repo.closed
    assert repo.closed
    assert "closed" in repr(repo)
    with pytest.raises(mtm.ClosedError):
        repo.accounts()
    # A view taken before keeps working; the repository opens again.
    assert account.days() == [date(2026, 11, 20)]
    with mtm.Repository.open(tmp_path / "repo") as again:
        assert again.accounts() == [ALICE]
        assert again.path == tmp_path / "repo"
        assert again.retention_days == 15


def test_two_days_of_snapshots(repo: mtm.Repository, maildir: Maildir) -> None:
    maildir.add(mail("first"))
    repo.snapshot(ALICE, maildir.root, now=DAY1)
    maildir.add(mail("second"))
    report = repo.snapshot(ALICE, maildir.root, now=DAY2)
    assert (report.files_unchanged, report.files_read) == (1, 1)
    account = repo.account(ALICE)
    assert account.days() == [date(2026, 11, 20), date(2026, 11, 21)]
    assert account.snapshot(date(2026, 11, 21)).messages == 2
