"""The output-checked cells of the notebooks whose numbers depend most on the CPU's kernels
(04: a layer by hand against the library's; 08: bitsandbytes' 4-bit CPU path and weight
layout) pass with torch forced onto another instruction set than this machine's.

torch picks its vectorised kernels by ``ATEN_CPU_CAPABILITY`` (``avx512``, ``avx2``,
``default``); a learner's laptop may have only AVX2, or be ARM. nbval runs both notebooks
in a child process with the capability forced one step down, so a test on an AVX-512
machine also stands in for an AVX2 laptop, and one on AVX2 for a CPU without it.
"""

import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["notebooks/ko/04_transformer_block.ipynb", "notebooks/ko/08_quantization.ipynb"]


def lower_capability() -> str:
    here = torch.backends.cpu.get_cpu_capability().upper()
    return "avx2" if here.startswith("AVX512") else "default"


def forced_env() -> dict:
    """The environment of a child process that computes as a lower CPU would.

    oneDNN (torch's matrix and attention kernels for bfloat16) picks its own instruction set: on
    an AMX machine forced to AVX2 in ATen alone, its bfloat16 attention packs for AVX-512 and
    fails (``pack_vnni2 is only supported when avx512 is supported``), a mix no real AVX2 CPU
    has. ``ONEDNN_MAX_CPU_ISA`` caps it to the same level.
    """
    env = dict(os.environ, ATEN_CPU_CAPABILITY=lower_capability(), OMP_NUM_THREADS="1")
    if lower_capability() == "avx2":
        env["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def test_the_forced_capability_takes_effect():
    forced = lower_capability()
    env = forced_env()
    seen = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                          env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert seen.lower() == forced, (seen, forced)


def test_checked_cells_hold_on_another_cpu_capability():
    env = forced_env()
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", *NOTEBOOKS],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
