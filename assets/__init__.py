"""Small data files of the course lessons.

This folder is installed as the package ``llm_course.assets`` (see pyproject.toml),
so the files reach Colab with ``pip install`` as well; read them with
``llm_course.asset_path(name)``.
"""
