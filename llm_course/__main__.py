"""Command line: ``python -m llm_course doctor`` and ``python -m llm_course prepare``.

``doctor`` prints the environment report (notebook 00 shows the same) and
tries the packaged models; ``prepare`` converts the packaged GGUF models into the
cache ahead of a class (set ``LLM_COURSE_CACHE`` to prepare a shared copy).
"""

from __future__ import annotations

import argparse
import sys
import time


def doctor() -> int:
    from . import env, models

    env.print_report(check_hub=True, prepare=False)  # the loads below convert, and report a failure once
    failures = 0
    for name in models.known_models():
        start = time.perf_counter()
        try:
            models.load_tokenizer(name)
            models.load_model(name, device="cpu")
        except models.ModelError as err:
            failures += 1
            print(f"\n[problem] {name}:\n{err}")
            continue
        print(f"[ok] {name} loads in {time.perf_counter() - start:.1f} s")
    return 1 if failures else 0


def prepare() -> int:
    from . import models
    from .i18n import bilingual, josa

    for name, spec in models.REGISTRY.items():
        if not spec.gguf_file:  # loaded in place, nothing to convert
            continue
        try:
            folder = models.ensure_cached(name)
        except models.ModelError as err:  # a message that says what to do, not a traceback
            print(err, file=sys.stderr)
            return 1
        print(bilingual(f"모델 {josa(name, '이/가')} 준비되었습니다(ready): {folder}",
                        f"The model {name} is ready in {folder}"))
        if spec.notice:
            print(models.licence_notice(name))
    from . import hints

    config = hints.write_kernel_config()  # NameError hints in every kernel of this environment
    if config:
        print(f"Notebook kernels of this environment load llm_course.hints ({config}).")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_course", description="LLM course helper")
    parser.add_argument("command", choices=["doctor", "prepare"],
                        help="doctor: report the environment and try the models; "
                             "prepare: build the model cache ahead of time")
    args = parser.parse_args(argv)
    return doctor() if args.command == "doctor" else prepare()


if __name__ == "__main__":
    sys.exit(main())
