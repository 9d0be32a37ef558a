"""Plot helpers shared by the notebooks, and Korean text in every figure.

One module for every lesson's figures, in lesson order (01 to 09), because each
needs the same font set-up and resolution before it draws; a lesson's section
holds only its own figures.

matplotlib's default font (DejaVu Sans) has no Hangul, so Korean labels come
out as empty boxes with "Glyph ... missing" warnings. The PyPI package
``koreanize-matplotlib`` bundles the NanumGothic font (SIL Open Font
License). We register its font files ourselves instead of importing the
package, whose import uses ``distutils`` (gone since Python 3.12, which Colab
runs). :func:`setup_fonts` runs before a helper here draws its first figure (and from
the notebook's setup cell, ``env.print_report()``), never at import; every
helper here returns the figure it builds so tests and other code can use it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib import font_manager

from . import installed_package_dir
from .i18n import bilingual

KOREAN_FONT = "NanumGothic"
FIGURE_DPI = 100  # modest, keeps notebooks small; at 72-80 dpi NanumGothic drops the underscores of small labels

_fonts_ready = False


def korean_font_files() -> list[Path]:
    folder = installed_package_dir("koreanize_matplotlib")
    if folder is None:
        raise ImportError(bilingual(
            "그림의 한글에는 'koreanize-matplotlib' 패키지의 나눔고딕 글꼴이 필요합니다.\n설치:  pip install koreanize-matplotlib",
            "Korean labels need the NanumGothic font from the package 'koreanize-matplotlib'.\n"
            "Install it with:  pip install koreanize-matplotlib"))
    fonts = folder / "fonts"
    return sorted(fonts.glob("*.ttf"))


def setup_fonts() -> str:
    """Register NanumGothic and make it matplotlib's default font (idempotent)."""
    global _fonts_ready
    if not _fonts_ready:
        for path in korean_font_files():
            font_manager.fontManager.addfont(str(path))
        matplotlib.rcParams["font.family"] = KOREAN_FONT
        matplotlib.rcParams["axes.unicode_minus"] = False  # NanumGothic has no U+2212 minus sign
        matplotlib.rcParams["figure.dpi"] = FIGURE_DPI
        matplotlib.rcParams["savefig.dpi"] = FIGURE_DPI
        _fonts_ready = True
    return KOREAN_FONT


def _korean_figure(draw):
    """Decorator: the font is set up before the helper draws (idempotent)."""
    import functools

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        setup_fonts()
        return draw(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------
# Notebook 01: tokenization
# --------------------------------------------------------------------------


@_korean_figure
def token_ratio_plot(table: dict[str, list[tuple[int, int]]], title: str | None = None):
    """Korean/English token ratios per tokenizer: one dot per sentence pair, a bar for the totals (notebook 01).

    ``table`` is :func:`llm_course.tokens.count_table`'s result:
    ``{tokenizer name: [(korean count, english count), ...]}``. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not table or not all(table.values()):
        raise ValueError(bilingual("표가 비어 있습니다. 먼저 tokens.count_table()로 문장 쌍의 토큰을 세세요.",
                                   "The table is empty: count some sentence pairs first with tokens.count_table()."))
    names = list(table)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    rng = np.random.default_rng(0)  # fixed jitter so the figure is the same every run
    for x, name in enumerate(names):
        rows = table[name]
        per_pair = [k / e for k, e in rows]
        total = sum(k for k, _ in rows) / sum(e for _, e in rows)
        ax.bar(x, total, width=0.6, color=f"C{x}", alpha=0.35)
        ax.scatter(x + rng.uniform(-0.18, 0.18, len(per_pair)), per_pair, color=f"C{x}", s=18, zorder=3)
        ax.text(x + 0.32, total, f"{total:.2f}×", ha="left", va="center", fontsize=11, fontweight="bold")
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(names)), names)
    ax.set_xlim(-0.5, len(names) - 0.5 + 0.35)
    ax.set_ylabel("한국어 토큰 ÷ 영어 토큰 (Korean / English)")
    ax.set_title(title or "같은 뜻, 다른 비용 (same meaning, different cost)")
    fig.tight_layout()
    return fig


@_korean_figure
def vocab_size_plot(vocab_sizes: list[int], counts: list[int], references: dict[str, int] | None = None,
                    title: str | None = None):
    """Token count of a text against the vocabulary size of a trained BPE (notebook 01).

    ``references`` draws a dashed line for each other tokenizer's count of the
    same text. Returns the figure.
    """
    import matplotlib.pyplot as plt

    if len(vocab_sizes) != len(counts) or not counts:
        raise ValueError(bilingual("vocab_sizes와 counts는 길이가 같고 비어 있지 않은 목록이어야 합니다.",
                                   "vocab_sizes and counts must be non-empty lists of the same length."))
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(vocab_sizes, counts, marker="o", color="C3", label="직접 학습한 BPE (our BPE)")
    for n, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, color=f"C{n}", linestyle="--", linewidth=1, label=f"{name}: {value}")
    ax.set_xlabel("어휘 크기 (vocabulary size)")
    ax.set_ylabel("한국어 토큰 수 (Korean tokens)")
    ax.set_title(title or "어휘가 클수록 토큰이 줄어든다 (bigger vocabulary, fewer tokens)")
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# Notebook 02: embeddings
# --------------------------------------------------------------------------


def _short(text: str, width: int = 32) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@_korean_figure
def similarity_heatmap(matrix, labels, title: str = "cosine similarity"):
    """A square heatmap of pairwise similarities with the values written in (notebook 02)."""
    import numpy as np
    from matplotlib import pyplot as plt

    values = _as_numpy(matrix)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] != len(labels):
        raise ValueError(bilingual(f"행마다 이름이 하나씩 있는 정사각 행렬이 필요합니다. 들어온 모양: {values.shape}, 이름 {len(labels)}개",
                                   f"Need a square matrix with one label per row; got shape {values.shape} "
                                   f"and {len(labels)} labels."))
    n = len(labels)
    fig, ax = plt.subplots(figsize=(7, 5))
    image = ax.imshow(values, cmap="viridis", vmin=min(0.0, values.min()), vmax=1.0)
    names = [_short(s) for s in labels]
    ax.set_xticks(range(n), [str(i) for i in range(n)])
    ax.set_yticks(range(n), [f"{name} ({i})" for i, name in enumerate(names)])
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if values[i, j] > 0.6 else "white")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    plt.close(fig)  # the notebook shows the returned figure once
    return fig


@_korean_figure
def projection_scatter(coords, labels, groups, title: str = "2-D projection", explained=None):
    """Points of a 2-D projection, coloured by group and labelled with their text (notebook 02)."""
    import numpy as np
    from matplotlib import pyplot as plt

    xy = _as_numpy(coords)
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] != len(labels) or len(groups) != len(labels):
        raise ValueError(bilingual(f"점마다 이름과 그룹이 하나씩 있는 (n, 2) 좌표가 필요합니다. 들어온 모양: {xy.shape}, "
                                   f"이름 {len(labels)}개, 그룹 {len(groups)}개",
                                   f"Need (n, 2) coordinates with one label and one group per point; got shape "
                                   f"{xy.shape}, {len(labels)} labels, {len(groups)} groups."))
    fig, ax = plt.subplots(figsize=(8, 5))
    for g, colour in zip(dict.fromkeys(groups), plt.cm.tab10.colors):
        idx = [i for i, gi in enumerate(groups) if gi == g]
        ax.scatter(xy[idx, 0], xy[idx, 1], color=colour, label=g, s=40)
        for i in idx:
            ax.annotate(_short(labels[i], 24), xy[i], fontsize=7, xytext=(4, 3), textcoords="offset points")
    if explained is not None:
        ax.set_xlabel(f"PC 1 ({float(explained[0]):.0%})")
        ax.set_ylabel(f"PC 2 ({float(explained[1]):.0%})")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    plt.close(fig)
    return fig


@_korean_figure
def position_pictures(learned_positions, rope_angles_cos, learned_by_distance, rope_by_distance):
    """What each kind of position information looks like, side by side (notebook 02).

    Top: the learned position vectors an encoder adds (positions × dimensions)
    and the cosines of RoPE's rotation angles (positions × dimension pairs).
    Bottom: how similar two positions ``d`` apart are, for each.
    """
    import numpy as np
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(8, 5.5))
    panels = [
        (_as_numpy(learned_positions), "학습된 위치 벡터 (MiniLM)\nlearned positions", "차원 (dimension)"),
        (_as_numpy(rope_angles_cos), "RoPE 회전각의 cos (SmolLM2)\ncos of RoPE angles", "차원 짝 (dimension pair)"),
    ]
    for ax, (img, title, xlabel) in zip(axes[0], panels):
        limit = float(np.abs(img).max()) or 1.0  # symmetric colours: white is 0
        ax.imshow(img, aspect="auto", cmap="RdBu_r", interpolation="nearest", vmin=-limit, vmax=limit)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("위치 (position)", fontsize=8)
    curves = [
        (_as_numpy(learned_by_distance), "cos(p_i, p_i+d)"),
        (_as_numpy(rope_by_distance), "RoPE 점수 (score): q·k"),
    ]
    for ax, (curve, ylabel) in zip(axes[1], curves):
        ax.plot(range(len(curve)), curve)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("거리 (distance) d", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------
# Notebook 03: attention heatmaps
# --------------------------------------------------------------------------


def _as_numpy(weights):
    """A float NumPy array from a tensor on any device (a GPU on Colab), an array or a list."""
    import numpy as np

    return weights.detach().cpu().float().numpy() if hasattr(weights, "detach") else np.asarray(weights, dtype=float)


def _draw_attention(ax, weights, tokens, title=None, *, vmax=None, label_size=8):
    data = _as_numpy(weights)
    if data.ndim != 2 or data.shape[0] != data.shape[1]:
        raise ValueError(bilingual(f"어텐션 가중치는 (seq_len, seq_len) 정사각 행렬이어야 합니다. 들어온 모양: {data.shape}",
                                   f"Attention weights must be a square (seq_len, seq_len) matrix; got shape {data.shape}."))
    if tokens is not None and len(tokens) != data.shape[0]:
        raise ValueError(bilingual(f"{data.shape[0]} x {data.shape[0]} 행렬에 토큰 이름이 {len(tokens)}개입니다. 행마다 하나씩 주세요.",
                                   f"{len(tokens)} token labels for a {data.shape[0]} x {data.shape[0]} matrix."))
    image = ax.imshow(data, cmap="viridis", vmin=0.0, vmax=vmax if vmax is not None else max(float(data.max()), 1e-9))
    if tokens is not None:
        ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=label_size)
        ax.set_yticks(range(len(tokens)), tokens, fontsize=label_size)
    ax.set_xlabel("key (attended to)", fontsize=label_size)
    ax.set_ylabel("query (attending)", fontsize=label_size)
    if title:
        ax.set_title(title, fontsize=label_size + 2)
    return image


@_korean_figure
def attention_heatmap(weights, tokens=None, *, title=None, figsize=(5.5, 4.5)):
    """One head's ``(seq_len, seq_len)`` attention weights as a heatmap with token labels. Notebook 03.

    Row i shows where query token i looks; each row sums to 1. Returns the figure.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    image = _draw_attention(ax, weights, tokens, title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


@_korean_figure
def attention_heads_grid(attentions, tokens, layer: int, *, ncols: int = 3, figsize=(8, 8)):
    """Every head of one layer side by side; ``attentions`` is ``(num_layers, num_heads, seq_len, seq_len)``. Notebook 03."""
    import matplotlib.pyplot as plt

    from .attention import check_layer_head

    check_layer_head(attentions, layer, 0)
    num_heads = attentions.shape[1]
    nrows = -(-num_heads // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    show_labels = len(tokens) <= 16
    for h, ax in enumerate(axes.flat):
        if h >= num_heads:
            ax.axis("off")
            continue
        _draw_attention(ax, attentions[layer, h], tokens if show_labels else None, f"layer {layer}, head {h}",
                        vmax=1.0, label_size=6)
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.tight_layout()
    return fig


@_korean_figure
def attention_side_by_side(left, left_tokens, right, right_tokens, *, titles=("", ""), figsize=(8, 4.2)):
    """Two attention matrices next to each other (notebook 03: the decoder's causal mask against the encoder)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=figsize)
    for ax, weights, tokens, title in zip(axes, (left, right), (left_tokens, right_tokens), titles):
        _draw_attention(ax, weights, tokens, title, vmax=1.0, label_size=7)
    fig.tight_layout()
    return fig


@_korean_figure
def head_score_map(scores, *, title=None, figsize=(6, 5.5), mark=None):
    """A ``(num_layers, num_heads)`` table of head scores as a heatmap; ``mark=(layer, head)`` circles one cell. Notebook 03."""
    import matplotlib.pyplot as plt

    data = _as_numpy(scores)
    if data.ndim != 2:
        raise ValueError(bilingual(f"헤드 점수는 (num_layers, num_heads) 표여야 합니다. 들어온 모양: {data.shape}",
                                   f"Head scores must be a (num_layers, num_heads) table; got shape {data.shape}."))
    fig, ax = plt.subplots(figsize=figsize)
    image = ax.imshow(data, cmap="magma", aspect="auto", vmin=0.0, vmax=max(float(data.max()), 1e-9))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(data.shape[1]))
    if mark is not None:
        ax.plot(mark[1], mark[0], marker="o", markersize=14, markerfacecolor="none", markeredgecolor="cyan", mew=2)
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# Notebook 04: the transformer block
# --------------------------------------------------------------------------


@_korean_figure
def parameter_bars(counts: dict, *, title: str | None = None, figsize=(6.5, 3.4)):
    """Parameters per component as bars, in millions, with each one's share written on top (notebook 04).

    ``counts`` is :func:`llm_course.transformer.parameter_counts`'s result. Returns the figure.
    """
    from matplotlib import pyplot as plt

    if not counts or sum(counts.values()) <= 0:
        raise ValueError("No parameters to plot: pass transformer.parameter_counts(model).")
    names, values = list(counts), [int(v) for v in counts.values()]
    total = sum(values)
    fig, ax = plt.subplots(figsize=figsize)
    bars = ax.bar(range(len(values)), [v / 1e6 for v in values], color=[f"C{i}" for i in range(len(values))])
    for bar, v in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{v / 1e6:.1f} M\n{v / total:.1%}",
                ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, max(values) / 1e6 * 1.3)
    ax.set_ylabel("파라미터 (parameters), M")
    ax.set_title(title or f"파라미터는 어디에 있나 (where the {total / 1e6:.1f} M parameters live)")
    fig.tight_layout()
    plt.close(fig)  # the notebook shows the returned figure once
    return fig


@_korean_figure
def residual_norm_plot(norms, labels, *, title: str | None = None, figsize=(7, 3.8)):
    """The norm of the residual stream after each layer, one line per token, log scale (notebook 04).

    ``norms`` is ``(num_layers + 1, seq_len)``: row 0 the embeddings, row k after k layers.
    """
    from matplotlib import pyplot as plt

    data = _as_numpy(norms)
    if data.ndim != 2 or data.shape[1] != len(labels):
        raise ValueError(f"Need (num_layers + 1, seq_len) norms and one label per token; got shape {data.shape} "
                         f"and {len(labels)} labels.")
    fig, ax = plt.subplots(figsize=figsize)
    for pos, label in enumerate(labels):
        ax.plot(range(data.shape[0]), data[:, pos], marker=".", label=f"{pos}: {label!r}")
    ax.set_yscale("log")
    ax.set_xlabel("지나온 층의 수 (layers passed; 0 = embeddings)")
    ax.set_ylabel("‖residual‖ (log)")
    ax.set_title(title or "잔차 스트림의 크기 (norm of the residual stream)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


@_korean_figure
def logit_lens_heatmap(top_probs, top_labels, position_labels, *, title: str | None = None, figsize=(7, 8.5)):
    """The logit lens: the top token at every (layers passed, position), coloured by its probability (notebook 04).

    ``top_probs`` is ``(num_layers + 1, seq_len)``; ``top_labels`` the same shape as nested lists of strings.
    """
    import numpy as np
    from matplotlib import pyplot as plt
    from matplotlib.colors import ListedColormap

    data = _as_numpy(top_probs)
    rows, cols = data.shape if data.ndim == 2 else (0, 0)
    if data.ndim != 2 or len(top_labels) != rows or any(len(r) != cols for r in top_labels) \
            or len(position_labels) != cols:
        raise ValueError("Need (rows, positions) probabilities, the same shape of labels, and one label per position.")
    fig, ax = plt.subplots(figsize=figsize)
    cmap = ListedColormap(plt.get_cmap("YlOrBr")(np.linspace(0.0, 0.7, 256)))  # its light part: black text stays readable
    image = ax.imshow(data, cmap=cmap, aspect="auto", vmin=0.0, vmax=1.0)
    for r in range(rows):
        for c in range(cols):
            ax.text(c, r, _short(repr(top_labels[r][c]), 12), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(cols), [repr(p) for p in position_labels], fontsize=8)
    ax.set_yticks(range(rows), [str(r) for r in range(rows)], fontsize=7)
    ax.set_xlabel("입력 위치 (input position): 여기서 예측하는 다음 토큰 (the next token predicted here)")
    ax.set_ylabel("지나온 층의 수 (layers passed)")
    ax.set_title(title or "로짓 렌즈 (logit lens): 층마다 1등 토큰 (top token per layer)")
    fig.colorbar(image, ax=ax, fraction=0.046, label="1등 확률 (p of the top token)")
    fig.tight_layout()
    plt.close(fig)
    return fig


@_korean_figure
def token_rank_plot(ranks, token: str, *, title: str | None = None, figsize=(7, 3.2)):
    """Place of one token in the logit lens after each layer (1 = the top token), log scale (notebook 04)."""
    from matplotlib import pyplot as plt

    data = _as_numpy(ranks)
    if data.ndim != 1 or data.size == 0:
        raise ValueError("Need one rank per layer (a 1-D sequence).")
    fig, ax = plt.subplots(figsize=figsize)
    ax.plot(range(data.size), data, marker="o")
    ax.set_yscale("log")
    ax.invert_yaxis()  # the top token at the top
    ax.set_xlabel("지나온 층의 수 (layers passed)")
    ax.set_ylabel("순위 (rank), 1 = 1등")
    ax.set_title(title or f"{token!r}의 순위 (rank of {token!r})")
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------
# Notebook 05: generation (next-token probabilities)
# --------------------------------------------------------------------------


@_korean_figure
def token_probability_bars(pairs, *, title: str | None = None, figsize=(6.5, 3.6)):
    """Horizontal bars of ``(token text, probability)`` pairs, most likely on top (notebook 05).

    ``pairs`` is what :func:`llm_course.generation.top_tokens` returns. Returns the figure.
    """
    from matplotlib import pyplot as plt

    if not pairs:
        raise ValueError(bilingual("그릴 토큰이 없습니다. (토큰, 확률) 쌍의 목록을 주세요.",
                                   "No tokens to plot: pass a non-empty list of (token, probability) pairs."))
    labels = [t for t, _ in pairs][::-1]
    values = [float(p) for _, p in pairs][::-1]
    fig, ax = plt.subplots(figsize=figsize)
    bars = ax.barh(range(len(values)), values, color="C0")
    ax.set_yticks(range(len(values)), labels)
    for bar, v in zip(bars, values):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v:.1%}", va="center", fontsize=8)
    ax.set_xlim(0, max(values) * 1.18)
    ax.set_xlabel("확률 (probability)")
    ax.set_title(title or "다음 토큰의 확률 (next-token probabilities)")
    fig.tight_layout()
    plt.close(fig)  # the notebook shows the returned figure once
    return fig


@_korean_figure
def distribution_comparison(labels, series: dict, *, title: str | None = None, figsize=(8, 3.8)):
    """Grouped bars: the same tokens' probabilities under several settings (notebook 05).

    ``series`` maps a setting's name (``"T=0.5"``, ``"top-k=3"``) to one
    probability per label; a filtered-out token shows as an empty slot.
    Returns the figure.
    """
    import numpy as np
    from matplotlib import pyplot as plt

    if not series or any(len(v) != len(labels) for v in series.values()):
        raise ValueError(bilingual("모든 계열에 레이블마다 확률이 정확히 하나씩 있어야 합니다.",
                                   "Every series needs exactly one probability per label."))
    x = np.arange(len(labels))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=figsize)
    for n, (name, values) in enumerate(series.items()):
        ax.bar(x + (n - (len(series) - 1) / 2) * width, [float(v) for v in values], width, label=name)
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("확률 (probability)")
    ax.set_title(title or "설정에 따라 바뀌는 분포 (the distribution under each setting)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


@_korean_figure
def value_bars(names, values, *, title: str | None = None, ylabel: str = "", figsize=(6.5, 3.4), fmt="{:.0%}"):
    """One bar per named value with the value written on top (notebook 05: repetition per decoding setting)."""
    from matplotlib import pyplot as plt

    if len(names) != len(values) or not names:
        raise ValueError(bilingual("names와 values는 길이가 같고 비어 있지 않은 목록이어야 합니다.",
                                   "names and values must be non-empty lists of the same length."))
    fig, ax = plt.subplots(figsize=figsize)
    bars = ax.bar(range(len(values)), [float(v) for v in values], color=[f"C{i}" for i in range(len(values))])
    for bar, v in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), fmt.format(v), ha="center", va="bottom",
                fontsize=9)
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, max(max(float(v) for v in values) * 1.2, 1e-9))
    if title:
        ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------
# Notebook 06: prompting and in-context learning
# --------------------------------------------------------------------------


@_korean_figure
def plot_accuracy_by_shots(rows: dict, n_test: int, series=("all", "en", "ko"), title: str | None = None):
    """Accuracy against the number of shots, one line per language, with chance level (notebook 06).

    ``rows`` maps the number of shots to a row of ``prompting.summarize``;
    the error bars are one standard error of a proportion over ``n_test``
    examples per line (fewer for one language), to show what is noise.
    """
    import math

    import matplotlib.pyplot as plt

    shots = sorted(rows)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    counts = {"all": n_test}
    for name in series:
        acc = [rows[k][name] for k in shots]
        n = counts.get(name, n_test / (len(series) - 1) if len(series) > 1 else n_test)
        err = [math.sqrt(a * (1 - a) / n) for a in acc]
        ax.errorbar(shots, acc, yerr=err, marker="o", capsize=3, label=name)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance / 우연 수준")
    ax.set_xticks(shots)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("shots in the prompt / 프롬프트 속 예시 수")
    ax.set_ylabel("accuracy / 정확도")
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------
# Notebook 08: quantization and memory
# --------------------------------------------------------------------------


@_korean_figure
def footprint_perplexity_plot(rows: dict, *, baseline: str = "float32", title: str | None = None):
    """Perplexity against footprint, one point per precision and language, relative to ``baseline`` (notebook 08).

    ``rows`` maps a precision's name to ``{"footprint": bytes, "ppl": {"ko": ..., "en": ...}}``.
    Perplexity is drawn as a ratio to the baseline's on the same text (1.0 =
    no loss), because per-token perplexities of two languages are not on one scale.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    if baseline not in rows:
        raise ValueError(f"The baseline precision {baseline!r} is not among the rows {list(rows)}.")
    langs = list(rows[baseline]["ppl"])
    fig, ax = plt.subplots(figsize=(6.8, 4))
    for n, lang in enumerate(langs):
        xs = [row["footprint"] / 1e6 for row in rows.values()]
        ys = [row["ppl"][lang] / rows[baseline]["ppl"][lang] for row in rows.values()]
        ax.scatter(xs, ys, s=40, color=f"C{n}", label=lang, zorder=3)
        for i, (name, x, y) in enumerate(zip(rows, xs, ys)):
            # first language's labels above, the second's below; neighbours staggered so equal points stay readable
            dy = (4 + 8 * (i % 2)) if n == 0 else -(11 + 8 * (i % 2))
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, dy), fontsize=8, color=f"C{n}")
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("메모리 사용량 (footprint, MB)")
    ax.set_ylabel(f"퍼플렉서티 ÷ {baseline} (perplexity ratio)")
    ax.set_title(title or "작을수록 조금씩 나빠진다 (smaller costs some quality)")
    ax.legend(title="text", fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


@_korean_figure
def quantization_error_plot(bits, series: dict, points: dict | None = None, *, title: str | None = None):
    """Reconstruction error against the number of bits, one line per method, log scale (notebook 08).

    ``series`` maps a method's name to one relative error per entry of
    ``bits``; ``points`` maps a name to a single ``(bits, error)`` (NF4, FP4).
    Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if not series or any(len(v) != len(bits) for v in series.values()):
        raise ValueError("Every series needs exactly one error per number of bits.")
    fig, ax = plt.subplots(figsize=(6.8, 4))
    for n, (name, errors) in enumerate(series.items()):
        ax.plot(bits, errors, marker="o", color=f"C{n}", label=name)
    for m, (name, (b, err)) in enumerate((points or {}).items()):
        ax.scatter([b], [err], marker="*", s=160, color=f"C{len(series) + m}", label=name, zorder=4)
    ax.set_yscale("log")
    # percent labels in plain text: the default 10^-1 labels use a minus sign NanumGothic lacks
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}" if v >= 0.01 else f"{v:.1%}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(list(bits))
    ax.set_xlabel("비트 수 (bits per weight)")
    ax.set_ylabel("상대 오차 (relative RMS error)")
    ax.set_title(title or "비트가 줄면 오차가 늘어난다 (fewer bits, more error)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


@_korean_figure
def router_heatmap(probs, tokens, *, top_k: int | None = None, title: str | None = None):
    """Router probabilities of one MoE layer, one row per token and one column per expert (notebook 08).

    ``probs`` is ``(tokens, num_experts)``; with ``top_k`` the experts each
    token is sent to are outlined in red. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    data = _as_numpy(probs)
    if data.ndim != 2 or len(tokens) != data.shape[0]:
        raise ValueError(f"probs must be (tokens, num_experts) with one label per token; got {data.shape} and "
                         f"{len(tokens)} labels.")
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * data.shape[1], 0.9 + 0.3 * data.shape[0]))
    image = ax.imshow(data, cmap="Blues", vmin=0.0, aspect="auto")
    ax.set_xticks(range(data.shape[1]), [str(e) for e in range(data.shape[1])], fontsize=8)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
    ax.set_xlabel("전문가 (expert)")
    if top_k:
        for row, experts in enumerate(np.argsort(-data, axis=1)[:, :top_k]):
            for expert in experts:
                ax.add_patch(Rectangle((expert - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.5))
    if title:
        ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------
# Notebook 09: fine-tuning (packing into blocks, loss curves)
# --------------------------------------------------------------------------


@_korean_figure
def packing_picture(doc_lengths, block_size: int, *, max_blocks: int = 6, title: str | None = None,
                    figsize=(8, 3.4)):
    """How ``group_texts`` packs rows of different lengths into blocks of ``block_size`` tokens (notebook 09).

    ``doc_lengths`` are the token counts of consecutive rows. Each row of the
    picture is one block; colours show which row of the data set each token
    came from, so a row that crosses a block boundary continues in the next
    block. The tokens after the last full block are drawn grey: they are
    dropped. At most ``max_blocks`` blocks are drawn. Returns the figure.
    """
    from matplotlib import pyplot as plt

    lengths = [int(n) for n in doc_lengths]
    if block_size < 1 or not lengths or sum(lengths) == 0:
        raise ValueError("Give block_size >= 1 and at least one non-empty row length.")
    total = sum(lengths)
    n_full = total // block_size
    shown_tokens = min(total, (max_blocks) * block_size) if n_full > max_blocks else total
    fig, ax = plt.subplots(figsize=figsize)
    position, doc = 0, 0
    for doc, n in enumerate(lengths):
        start, end = position, min(position + n, shown_tokens)
        while start < end:
            row = start // block_size
            row_end = min(end, (row + 1) * block_size)
            dropped = row >= n_full
            ax.barh(row, row_end - start, left=start - row * block_size, height=0.7,
                    color="lightgrey" if dropped else f"C{doc % 10}", edgecolor="white", linewidth=0.6,
                    hatch="//" if dropped else None)
            if row_end - start >= block_size / 12 and not dropped:
                ax.text(start - row * block_size + (row_end - start) / 2, row, str(doc), ha="center",
                        va="center", fontsize=7, color="white")
            start = row_end
        position += n
        if position >= shown_tokens:
            break
    n_rows = (shown_tokens + block_size - 1) // block_size
    labels = [f"block {r}" if r < n_full else "버림 (dropped)" for r in range(n_rows)]
    ax.set_yticks(range(n_rows), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, block_size)
    ax.set_xlabel(f"블록 안의 위치 (position in the block, block_size={block_size})")
    ax.set_title(title or "줄을 이어 붙여 블록으로 자르기 (rows concatenated, cut into blocks)")
    fig.tight_layout()
    plt.close(fig)
    return fig


@_korean_figure
def loss_curves(series: dict, *, title: str | None = None, ylabel: str = "손실 (loss)", figsize=(6.5, 3.6)):
    """Loss against training step, one line per named series (notebook 09).

    ``series`` maps a label to ``(steps, losses)``, for example the training
    loss and a held-out loss. Returns the figure.
    """
    from matplotlib import pyplot as plt

    if not series or any(len(s) != len(v) or not s for s, v in series.values()):
        raise ValueError("Every series needs (steps, losses) of the same, non-zero length.")
    fig, ax = plt.subplots(figsize=figsize)
    for n, (name, (steps, losses)) in enumerate(series.items()):
        ax.plot(steps, [float(v) for v in losses], marker="o", markersize=3, color=f"C{n}", label=name)
    ax.set_xlabel("학습 단계 (training step)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
