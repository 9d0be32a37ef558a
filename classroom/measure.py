"""How many learners fit on this machine: CPU-seconds and memory (PSS) of one run of a notebook.

    .venv/bin/python classroom/measure.py 05 09        # Korean notebooks 05 and 09, one after the other

Each notebook runs top to bottom in a fresh kernel with one torch thread (as on the hub),
alone. The kernel's CPU time (user + system) is what one learner's Run All costs the
machine; N learners pressing Run All together on C cores finish after about
CPU-seconds x N / C. PSS (proportional set size) counts the model cache's pages, which
all kernels share through the page cache, once across kernels, so the sum of PSS over
learners is the memory a class really takes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def kernel_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LLM_COURSE_DEVICE": "cpu"}


def measure(number: str) -> dict:
    import nbformat
    import psutil
    from nbclient import NotebookClient

    path = next((ROOT / "notebooks" / "ko").glob(f"{number}_*.ipynb"))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    peak = {"pss": 0, "rss": 0}
    stop = threading.Event()
    start = time.monotonic()
    # As on the hub: one torch thread, the CPU, whatever the environment says.
    with client.setup_kernel(env=kernel_env()):
        kernel = psutil.Process(client.km.provisioner.process.pid)

        def sample():
            while not stop.is_set():
                try:
                    info = kernel.memory_full_info()
                    peak["pss"], peak["rss"] = max(peak["pss"], info.pss), max(peak["rss"], info.rss)
                except psutil.Error:
                    pass
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        cpu = kernel.cpu_times()
        stop.set()
        sampler.join()
    return {"notebook": path.name, "cpu_s": cpu.user + cpu.system, "wall_s": time.monotonic() - start,
            "peak_pss_gb": peak["pss"] / 1e9, "peak_rss_gb": peak["rss"] / 1e9}


def main(argv: list[str]) -> int:
    for number in argv or ["05", "09"]:
        result = measure(number)
        print(f"{result['notebook']}: {result['cpu_s']:.0f} CPU-s (wall {result['wall_s']:.0f} s), "
              f"peak PSS {result['peak_pss_gb']:.2f} GB, peak RSS {result['peak_rss_gb']:.2f} GB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
