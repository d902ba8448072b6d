"""The README's nightly ops script, type-checked with `mypy --strict` by test_typing.py."""

import sys
from datetime import datetime, timezone

import mtm

repo_path, root = sys.argv[1], sys.argv[2]
with mtm.Repository.open(repo_path) as repo:
    now = datetime.now(timezone.utc)
    for result in repo.snapshot_root(root, now=now):
        if result.report:
            print(f"{result.account}: {result.report.messages} messages, {result.report.stored_bytes} new bytes")
        else:
            print(f"{result.account}: FAILED {result.error}", file=sys.stderr)
    plan = repo.prune_plan(now=now)
    print(f"pruning {len(plan.expired)} snapshots, reclaiming {repo.prune(plan).removed} records")
    print(f"gc freed {repo.gc().pack_bytes_before - repo.stats().pack_bytes} bytes")
    report = repo.verify(read_data=0.1)
    sys.exit(0 if report.ok else f"verify: {len(report.problems)} problems")
