"""./course.sh on a fresh machine: an old Python gets a clear message, and root can open JupyterLab."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def fresh_copy(tmp_path) -> Path:
    for name in ("course.sh", "requirements.txt", "requirements-oldest.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def fake_program(path: Path, script: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env bash\n" + script)
    path.chmod(0o755)
    return path


def test_an_old_python_gets_a_message_naming_what_to_install(tmp_path):
    repo = fresh_copy(tmp_path)
    old = fake_program(tmp_path / "bin" / "python3.9",
                       'if [ "$1" = "-V" ]; then echo "Python 3.9.18"; exit 0; fi\nexit 1\n')
    done = subprocess.run(["bash", str(repo / "course.sh"), "lab"], env=dict(os.environ, PYTHON=str(old)),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Python 3.11 or newer" in done.stderr and "3.9.18" in done.stderr
    assert "Python 3.11 이상" in done.stderr
    assert not (repo / ".venv").exists()


def test_a_missing_python_gets_a_message_too(tmp_path):
    repo = fresh_copy(tmp_path)
    done = subprocess.run(["bash", str(repo / "course.sh"), "test"],
                          env=dict(os.environ, PYTHON="no-such-python-3.11"), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "was not found" in done.stderr and "찾을 수 없습니다" in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the --allow-root branch is taken only by root (CI runs as root)")
def test_lab_as_root_starts_jupyter_with_allow_root(tmp_path):
    repo = fresh_copy(tmp_path)
    # A set-up that is already done: a venv whose python and jupyter only report how they were called.
    fake_program(repo / ".venv" / "bin" / "python", 'echo "python $*" >> "$(dirname "$0")/calls"\n')
    fake_program(repo / ".venv" / "bin" / "jupyter", 'echo "jupyter $*"\n')
    stamp = subprocess.run("cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1", shell=True, cwd=repo,
                           capture_output=True, text=True).stdout.strip()
    (repo / ".venv" / f".course-setup-{stamp}").touch()
    done = subprocess.run(["bash", str(repo / "course.sh"), "lab"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "jupyter lab --allow-root notebooks" in done.stdout
    assert "-m llm_course prepare" in (repo / ".venv" / "bin" / "calls").read_text()
