"""ipywidgets playgrounds: thin layers over pure functions that tests call directly.

Every widget here uses only ``ipywidgets.interactive`` and basic widgets, so
it works with ipywidgets 7 (Colab) and 8. Each section names its notebook.
"""

from __future__ import annotations

from .i18n import bilingual

# What a widget cell shows where no live widget can: in the committed notebook
# before it is run, in viewers without widgets (GitHub, VS Code without the
# extension), and in JupyterLab after a reopen, where the saved output can
# only say "Error displaying widget: model not found".
RUN_TO_SHOW = ("▶ 위젯이 보이지 않으면(노트북을 다시 연 뒤 등) 이 셀을 실행하세요. "
               "· If no widget shows here (for example after reopening the notebook), run this cell.")
DESCRIPTION_STYLE = {"description_width": "initial"}  # "temperature", "max_new_tokens" in full, not "temperat…"


def with_run_hint(widget):
    """Show a one-line bilingual "run this cell" note with ``widget``, and use it as its plain-text form.

    The note is a separate output above the widget, so it is still there when
    the widget itself cannot be drawn; ``repr(widget)`` (what a viewer without
    widgets prints, instead of ``VBox(children=...)``) is the note too.
    Works with ipywidgets 7 (Colab) and 8. Returns the same widget.
    """
    import html

    base = type(widget)

    def _ipython_display_(self, **kwargs):
        from IPython.display import display

        display({"text/plain": RUN_TO_SHOW,
                 "text/html": f'<div style="color:#888;font-size:85%">{html.escape(RUN_TO_SHOW)}</div>'}, raw=True)
        parent = getattr(base, "_ipython_display_", None)
        if parent is not None:  # ipywidgets 7
            parent(self, **kwargs)
        else:  # ipywidgets 8
            display(self._repr_mimebundle_(), raw=True)

    widget.__class__ = type(base.__name__, (base,), {"__repr__": lambda self: RUN_TO_SHOW,
                                                     "_ipython_display_": _ipython_display_,
                                                     "__module__": base.__module__})
    return widget


# --------------------------------------------------------------------------
# Notebook 03: attention explorer (sentence, layer, head)
# --------------------------------------------------------------------------


def attention_view(model, tokenizer, text: str, layer: int, head: int, *,
                   max_tokens: int = 40, cache: dict | None = None):
    """The figure the attention explorer shows: one head's heatmap for ``text``. Notebook 03.

    A pure function of its arguments (tests call it directly). Bad input
    (empty text, too many tokens, layer or head out of range) raises a
    ``ValueError`` that says what is valid. ``cache`` (a dict) keeps the last
    text's weights so moving a slider does not rerun the model.
    """
    from .attention import check_layer_head, get_attentions
    from .viz import attention_heatmap

    if cache is not None and cache.get("text") == text:
        labels, attentions = cache["result"]
    else:
        labels, attentions = get_attentions(model, tokenizer, text, max_tokens=max_tokens)
        if cache is not None:
            cache.clear()
            cache.update(text=text, result=(labels, attentions))
    check_layer_head(attentions, layer, head)
    return attention_heatmap(attentions[layer, head], labels, title=f"layer {layer}, head {head}")


def _figure_png(fig) -> bytes:
    """PNG bytes of a figure, which is then closed (so the inline backend does not show it a second time)."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def attention_explorer(model, tokenizer, text: str = "The cat sat on the mat because it was tired.",
                       layer: int = 0, head: int = 0, *, max_tokens: int = 40):
    """An ipywidgets playground over :func:`attention_view`: a sentence box and layer/head sliders. Notebook 03.

    Built from ``Text``, ``IntSlider``, ``HTML``, ``Image``, ``HBox`` and
    ``VBox`` only, so it works with ipywidgets 7 (Colab) and 8. The heatmap
    goes into an ``Image`` widget as PNG bytes (no ``Output`` capture, so the
    executed notebook stays small and nbclient's output-widget hook is not
    involved). A bad sentence shows the message instead of a stack trace.
    Returns the widget; its ``children`` are (text box, sliders, message, image).
    """
    import html

    import ipywidgets as widgets

    num_layers = model.config.num_hidden_layers
    num_heads = model.config.num_attention_heads
    text_box = widgets.Text(value=text, description="text", continuous_update=False,
                            layout=widgets.Layout(width="95%"), style=DESCRIPTION_STYLE)
    layer_slider = widgets.IntSlider(value=layer, min=0, max=num_layers - 1, description="layer",
                                     continuous_update=False, style=DESCRIPTION_STYLE)
    head_slider = widgets.IntSlider(value=head, min=0, max=num_heads - 1, description="head",
                                    continuous_update=False, style=DESCRIPTION_STYLE)
    message = widgets.HTML()
    image = widgets.Image(format="png")
    cache: dict = {}

    def update(*_):
        try:
            fig = attention_view(model, tokenizer, text_box.value, layer_slider.value, head_slider.value,
                                 max_tokens=max_tokens, cache=cache)
        except ValueError as err:
            message.value = f'<pre style="color:#a00; white-space:pre-wrap">{html.escape(str(err))}</pre>'
            return
        message.value = ""
        image.value = _figure_png(fig)

    for control in (text_box, layer_slider, head_slider):
        control.observe(update, names="value")
    update()
    return with_run_hint(widgets.VBox([text_box, widgets.HBox([layer_slider, head_slider]), message, image]))


# --------------------------------------------------------------------------
# Notebook 01: token playground (text, tokenizer)
# --------------------------------------------------------------------------


def token_playground(tokenizers: dict, text: str = "토큰화는 생각보다 재미있습니다. Tokenization is fun.",
                     *, max_shown: int = 200):
    """An ipywidgets playground: type a sentence, pick a tokenizer, see its tokens as coloured spans. Notebook 01.

    ``tokenizers`` maps a display name to any tokenizer
    :func:`llm_course.tokens.tokens_html_string` accepts (the pure function
    the tests call). Built from ``Text``, ``Dropdown``, ``HTML`` and ``VBox``
    only, so it works with ipywidgets 7 (Colab) and 8; the spans go into an
    ``HTML`` widget (no ``Output`` capture, so the executed notebook stays
    small). An empty sentence shows the message instead of a stack trace.
    Returns the widget; its ``children`` are (text box, dropdown, HTML view).
    """
    import html

    import ipywidgets as widgets

    from .tokens import tokens_html_string

    if not tokenizers:
        raise ValueError(bilingual("토크나이저를 하나 이상 주세요. 예: {'SmolLM2': tokenizer}",
                                   "Pass at least one tokenizer, for example {'SmolLM2': tokenizer}."))
    names = list(tokenizers)
    text_box = widgets.Text(value=text, description="text", continuous_update=False,
                            layout=widgets.Layout(width="95%"), style=DESCRIPTION_STYLE)
    choice = widgets.Dropdown(options=names, value=names[0], description="tokenizer", style=DESCRIPTION_STYLE)
    view = widgets.HTML()

    def update(*_):
        try:
            view.value = tokens_html_string(tokenizers[choice.value], text_box.value, max_shown=max_shown)
        except ValueError as err:
            view.value = f'<pre style="color:#a00">{html.escape(str(err))}</pre>'

    text_box.observe(update, names="value")
    choice.observe(update, names="value")
    update()
    return with_run_hint(widgets.VBox([text_box, choice, view]))


# --------------------------------------------------------------------------
# Notebook 05: generation playground (prompt, temperature, top-k, top-p, length, seed)
# --------------------------------------------------------------------------


def generation_view(model, tokenizer, prompt: str, mode: str = "sampling", temperature: float = 1.0,
                    top_k: int = 0, top_p: float = 1.0, max_new_tokens: int = 30, seed: int = 0) -> str:
    """What the generation playground shows: the settings, then the new text only. Notebook 05.

    A pure function of its arguments (tests call it directly); it runs
    :func:`llm_course.generation.generate_text`. ``mode`` is ``"sampling"`` or
    ``"greedy"`` (greedy ignores temperature, top-k, top-p and the seed);
    ``top_k=0`` switches top-k off. Bad settings raise ``ValueError`` with the
    valid range (temperature 0 while sampling, top_p outside (0, 1],
    max_new_tokens below 1).
    """
    from .generation import generate_text, trim_partial_character

    if mode not in ("sampling", "greedy"):
        raise ValueError(bilingual(f"mode는 'sampling' 또는 'greedy'여야 합니다. 들어온 값: {mode!r}",
                                   f"mode must be 'sampling' or 'greedy'; got {mode!r}."))
    sampling = mode == "sampling"
    text = generate_text(model, tokenizer, prompt, max_new_tokens=max_new_tokens, do_sample=sampling,
                         temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    text, cut = trim_partial_character(text)
    if sampling:
        settings = f"sampling: temperature={temperature}, top_k={top_k or 'off'}, top_p={top_p}, seed={seed}"
    else:
        settings = "greedy (do_sample=False)"
    shown = f"[{settings}, max_new_tokens={max_new_tokens}]\n{prompt}⟨{text}⟩"
    if cut:
        shown += ("\n(max_new_tokens에서 한 글자의 중간이 잘려, 그 조각은 빼고 보여 줍니다. 한글 한 글자는 토큰이 최대 3개입니다. "
                  "/ The limit fell inside a character; its broken bytes are left out. A Hangul syllable takes up to 3 tokens.)")
    return shown


def generation_playground(model, tokenizer, prompt: str = "Once upon a time, in a small village,", *,
                          max_tokens_limit: int = 120):
    """An ipywidgets playground over :func:`generation_view`. Notebook 05.

    Built from ``ipywidgets.interactive`` (with a button, since each run takes
    a few seconds on a CPU), ``Text``, ``Dropdown``, ``FloatSlider`` and
    ``IntSlider`` only, so it works with ipywidgets 7 (Colab) and 8. Bad
    settings print the message instead of a stack trace. The new text is shown
    between ⟨ ⟩. Returns the widget.
    """
    import ipywidgets as widgets

    def show(prompt, mode, temperature, top_k, top_p, max_new_tokens, seed):
        try:
            print(generation_view(model, tokenizer, prompt, mode, temperature, top_k, top_p, max_new_tokens, seed))
        except ValueError as err:
            print(err)

    style = DESCRIPTION_STYLE
    return with_run_hint(widgets.interactive(
        show,
        {"manual": True, "manual_name": "생성 (generate)"},
        prompt=widgets.Text(value=prompt, description="prompt", layout=widgets.Layout(width="95%"), style=style),
        mode=widgets.Dropdown(options=["sampling", "greedy"], value="sampling", description="mode", style=style),
        temperature=widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="temperature",
                                        style=style),
        top_k=widgets.IntSlider(value=0, min=0, max=100, description="top_k (0=off)", style=style),
        top_p=widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top_p", style=style),
        max_new_tokens=widgets.IntSlider(value=30, min=1, max=max_tokens_limit, description="max_new_tokens",
                                         style=style),
        seed=widgets.IntSlider(value=0, min=0, max=100, description="seed", style=style),
    ))


# --------------------------------------------------------------------------
# Notebook 07: chat widget (type a message, read the model's reply)
# --------------------------------------------------------------------------


def chat_transcript_html(messages) -> str:
    """The HTML the chat widget shows: one coloured line per message (system, user, assistant). Notebook 07.

    A pure function (tests call it directly); an empty conversation shows a hint.
    """
    import html

    from .chat import validate_messages

    if not messages:
        return "<i>대화를 시작해 보세요. / Start the conversation.</i>"
    colours = {"system": "#666", "user": "#1f4e8c", "assistant": "#0b6e3b"}
    rows = [f'<div style="margin:2px 0;white-space:pre-wrap"><b style="color:{colours[m["role"]]}">'
            f'{m["role"]}</b>: {html.escape(m["content"])}</div>' for m in validate_messages(messages)]
    return "".join(rows)


def chat_widget(reply_fn, system_prompt: str | None = None):
    """A small chat box over :func:`llm_course.chat.chat_step`: type, press "send", read the reply. Notebook 07.

    Enter in the text box sends too. ``reply_fn`` takes the conversation (a list of messages) and returns the
    assistant's text, for example
    ``lambda m: chat.generate_reply(model, tokenizer, m, max_new_tokens=60)``.
    ``system_prompt`` starts the conversation with a system message. Built
    from ``Text``, ``Button``, ``HTML``, ``HBox`` and ``VBox`` only, so it works
    with ipywidgets 7 (Colab) and 8; the transcript goes into an ``HTML``
    widget (no ``Output`` capture). An empty message or a failing reply shows
    the message instead of a stack trace. Returns the widget; its
    ``children`` are (transcript, HBox(text box, send, reset), status), and
    the conversation so far is in its ``messages`` attribute.
    """
    import html
    import warnings

    import ipywidgets as widgets

    from .chat import chat_step

    start = [{"role": "system", "content": system_prompt}] if system_prompt else []
    transcript = widgets.HTML(value=chat_transcript_html(start))
    text_box = widgets.Text(value="", placeholder="메시지 / message", layout=widgets.Layout(width="60%"))
    send = widgets.Button(description="보내기 (send)")
    reset = widgets.Button(description="새 대화 (reset)")
    status = widgets.HTML()
    box = widgets.VBox([transcript, widgets.HBox([text_box, send, reset]), status])
    box.messages = list(start)

    def on_send(_=None):
        status.value = "<i>생성 중... / generating...</i>"
        try:
            box.messages = chat_step(box.messages, text_box.value, reply_fn)
        except ValueError as err:
            status.value = f'<span style="color:#a00">{html.escape(str(err))}</span>'
            return
        text_box.value = ""
        status.value = ""
        transcript.value = chat_transcript_html(box.messages)

    def on_reset(_=None):
        box.messages = list(start)
        status.value = ""
        transcript.value = chat_transcript_html(box.messages)

    send.on_click(on_send)
    reset.on_click(on_reset)
    with warnings.catch_warnings():  # ipywidgets 8 calls on_submit deprecated, yet it is the Enter key in 7 and 8
        warnings.simplefilter("ignore", DeprecationWarning)
        text_box.on_submit(on_send)
    return with_run_hint(box)
