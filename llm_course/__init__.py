"""llm_course: the helper package of the hands-on LLM course.

Each module holds one concern and names, in its docstring, the notebook that
introduces it: ``env`` and ``models`` (00), ``checks`` (every notebook),
``viz`` (plots with Korean labels). Import the modules you need; importing
the package itself is cheap and loads no model.
"""

__version__ = "0.1.0"

# The one place the repository's address is written. The README's Colab badges
# and the notebooks' first cell (via llm_course.authoring) are built from it.
REPOSITORY = "llm-course-kr/llm-course"
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"
