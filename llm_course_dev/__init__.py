"""Tools for the course's authors and its test suite, kept out of the learner's package.

* :mod:`~llm_course_dev.authoring`: build, run and check the notebooks from ``notebooks/src``
  (``python -m llm_course_dev.authoring build 01``), and the README's course map;
* :mod:`~llm_course_dev.lessons`: the index of lessons (``notebooks/lessons.toml``) and the
  check of cross-references between them;
* :mod:`~llm_course_dev.device_audit` and :mod:`~llm_course_dev.pytest_plugin`: the test
  suite's audit that every input a lesson feeds a model follows ``model.device``.

It needs a checkout of the repository and the development requirements (nbformat, pytest);
``pip install`` of the course (Colab) does not install it. Run it from the repository root.
"""
