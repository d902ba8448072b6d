"""The stubs and dataclasses type-check: mypy --strict accepts the README's ops script and
rejects a script that misuses the API (so the check can fail)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mtm

HERE = Path(__file__).parent / "typecheck"


def mypy(script: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("mypy")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(script)],
        capture_output=True,
        text=True,
    )


def test_the_package_is_typed() -> None:
    package = Path(mtm.__file__).parent
    assert (package / "py.typed").exists()
    assert (package / "_mtm.pyi").exists()


def test_the_ops_script_passes_mypy_strict() -> None:
    result = mypy(HERE / "ops_example.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_restore_example_passes_mypy_strict() -> None:
    result = mypy(HERE / "restore_example.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_misuse_fails_mypy_strict() -> None:
    result = mypy(HERE / "wrong.py")
    assert result.returncode == 1, result.stdout + result.stderr
    errors = {int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error:" in line}
    source = (HERE / "wrong.py").read_text().splitlines()
    expected = {n for n, line in enumerate(source, start=1) if "  # " in line}
    assert errors == expected, result.stdout


def test_the_stub_names_what_the_module_has() -> None:
    stub = (Path(mtm.__file__).parent / "_mtm.pyi").read_text()
    for cls in (mtm.Repository, mtm.Account, mtm.RestoreDesk):
        public = {name for name in dir(cls) if not name.startswith("_")}
        for name in public:
            assert f"def {name}(" in stub, f"{cls.__name__}.{name} missing from _mtm.pyi"


def test_the_readme_shows_the_checked_ops_script() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    script = (HERE / "ops_example.py").read_text()
    body = script.split('"""', 2)[2].lstrip("\n")
    assert block == body


def test_the_readme_shows_the_checked_restore_example() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("```python\n", 2)[2].split("```", 1)[0]
    script = (HERE / "restore_example.py").read_text()
    body = script.split('"""', 2)[2].lstrip("\n")
    assert block == body
