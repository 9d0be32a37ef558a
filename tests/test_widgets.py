"""The widgets as a learner meets them: readable Korean labels, Enter to send, full slider names,
whole characters, and a "run this cell" line wherever a live widget cannot be drawn."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import pytest  # noqa: E402
from IPython.display import display  # noqa: E402
from IPython.testing.globalipapp import start_ipython  # noqa: E402

from llm_course import attention, generation, tokens, viz, widgets  # noqa: E402


def test_korean_token_labels_name_the_syllable_not_a_replacement_character(chat_tokenizer):
    ids = chat_tokenizer("고양이가 잔다", add_special_tokens=False)["input_ids"]
    labels = attention.token_labels(chat_tokenizer, ids)
    assert "�" not in "".join(labels)
    assert labels[:3] == ["고(1/3)", "고(2/3)", "고(3/3)"]
    assert "".join(label.split("(")[0] for label in labels if label.endswith("/3)") or "(" not in label)
    assert attention.token_labels(chat_tokenizer, chat_tokenizer("The cat", add_special_tokens=False)["input_ids"]) \
        == ["The", " cat"]


def test_byte_level_is_recognised_however_the_decoder_is_assembled(chat_tokenizer):
    # transformers before 5.18 (Colab) builds Sequence[ByteFallback, Fuse, Replace, ByteLevel].
    from tokenizers import decoders

    backend = chat_tokenizer.backend_tokenizer
    original = backend.decoder
    try:
        backend.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(),
                                             decoders.Replace("▁", " "), decoders.ByteLevel()])
        assert tokens._is_byte_level(chat_tokenizer)
        assert [p for _, p in tokens.token_pieces(chat_tokenizer, " isn't")][0] == " isn"
    finally:
        backend.decoder = original


def test_sliders_show_their_whole_description(chat_model, chat_tokenizer):
    playground = widgets.generation_playground(chat_model, chat_tokenizer)
    controls = [c for c in playground.children if hasattr(c, "description") and c.description
                and not isinstance(c, ipywidgets.Button)]
    assert {c.description for c in controls} >= {"temperature", "max_new_tokens", "top_k (0=off)"}
    assert all(c.style.description_width == "initial" for c in controls)


def test_enter_in_the_chat_box_sends():
    box = widgets.chat_widget(lambda messages: f"echo: {messages[-1]['content']}")
    transcript, row, _status = box.children
    text_box = row.children[0]
    text_box.value = "안녕"
    text_box._handle_string_msg(None, {"event": "submit"}, None)  # what the front end sends on Enter
    assert [m["content"] for m in box.messages] == ["안녕", "echo: 안녕"]
    assert text_box.value == "" and "echo: 안녕" in transcript.value


def test_a_generation_cut_inside_a_syllable_ends_on_a_whole_character(chat_model, chat_tokenizer):
    assert generation.trim_partial_character("안녕\ufffd\ufffd") == ("안녕", True)
    assert generation.trim_partial_character("안녕") == ("안녕", False)
    shown = widgets.generation_view(chat_model, chat_tokenizer, "안녕하세요. 오늘은", "greedy", max_new_tokens=4)
    assert "\ufffd" not in shown
    assert "A Hangul syllable takes up to 3 tokens" in shown  # 4 tokens end inside a syllable here: it says why


def test_figures_keep_underscores_at_their_resolution():
    assert viz.FIGURE_DPI >= 100
    assert matplotlib.rcParams["figure.dpi"] == viz.FIGURE_DPI


@pytest.fixture(scope="module")
def shell():
    return start_ipython()


def test_a_widget_cell_says_to_run_it_where_the_widget_cannot_show(shell, chat_tokenizer, capsys):
    box = widgets.token_playground({"SmolLM2": chat_tokenizer}, text="안녕")
    assert isinstance(box, ipywidgets.VBox)
    assert repr(box) == widgets.RUN_TO_SHOW  # what GitHub or a viewer without widgets prints
    outputs = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: outputs.append(data)
    display(box)
    assert outputs[0]["text/plain"] == widgets.RUN_TO_SHOW  # a line of its own, above the widget
    assert "application/vnd.jupyter.widget-view+json" in outputs[1]
    assert "이 셀을 실행하세요" in widgets.RUN_TO_SHOW and "run this cell" in widgets.RUN_TO_SHOW
