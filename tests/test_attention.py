"""Unit tests of notebook 03's helpers: llm_course.attention, its heatmaps, explorer and self-checks.

The hand-computed head must equal the model's own ``output_attentions``
(with grouped-query attention and RoPE), and every bad input must raise a
clear ValueError rather than a stack trace from inside torch.
"""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from llm_course import attention, checks, models, viz, widgets  # noqa: E402

SENTENCE = "The cat sat on the mat because it was tired."





@pytest.fixture(scope="module")
def decoder():
    tokenizer = models.load_tokenizer()
    model = models.load_model(attn_implementation="eager")
    encoded = tokenizer(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        out = model(**encoded, output_attentions=True, output_hidden_states=True)
    return SimpleNamespace(model=model, tokenizer=tokenizer, out=out,
                           attentions=torch.stack(out.attentions)[:, 0])


@pytest.fixture(scope="module")
def encoder():
    tokenizer = models.load_tokenizer(models.DEFAULT_ENCODER)
    model = models.load_model(models.DEFAULT_ENCODER, attn_implementation="eager")
    return SimpleNamespace(model=model, tokenizer=tokenizer)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- the hand-computed head agrees with the library ------------------------------------


@pytest.mark.parametrize("layer, head", [(0, 0), (3, 4), (16, 0), (29, 8)])
def test_head_by_hand_equals_model_weights(decoder, layer, head):
    mine = attention.head_by_hand(decoder.model, decoder.out.hidden_states[layer][0], layer, head)
    theirs = decoder.out.attentions[layer][0, head]
    assert torch.allclose(mine, theirs, atol=1e-5), (mine - theirs).abs().max()


def test_head_by_hand_without_rope_differs(decoder):
    mine = attention.head_by_hand(decoder.model, decoder.out.hidden_states[3][0], 3, 4, use_rope=False)
    assert (mine - decoder.out.attentions[3][0, 4]).abs().max() > 0.05


def test_gqa_key_head_is_shared(decoder):
    # Query heads 0, 1, 2 read key head 0: the key projection has 3 heads' rows, the query 9.
    attn = decoder.model.model.layers[0].self_attn
    assert attn.q_proj.weight.shape == (9 * 64, 576)
    assert attn.k_proj.weight.shape == (3 * 64, 576)


def test_rotate_half_and_rope_shapes():
    x = torch.arange(4.0)[None]
    assert attention.rotate_half(x).tolist() == [[-2.0, -3.0, 0.0, 1.0]]
    cos, sin = attention.rope_cos_sin(5, 8, 10000.0)
    assert cos.shape == sin.shape == (5, 8)
    assert torch.allclose(cos[0], torch.ones(8)) and torch.allclose(sin[0], torch.zeros(8))


# --- running texts, and bad input -----------------------------------------------------


def test_get_attentions_shape_and_causal(decoder):
    labels, att = attention.get_attentions(decoder.model, decoder.tokenizer, SENTENCE)
    assert att.shape == (30, 9, len(labels), len(labels))
    assert labels[:3] == ["The", " cat", " sat"]
    assert torch.allclose(att.sum(-1), torch.ones(att.shape[:-1]), atol=1e-5)
    assert float(attention.upper_triangle_mass(att).max()) == 0.0
    assert torch.equal(att, decoder.attentions)


def test_encoder_is_bidirectional(encoder):
    labels, att = attention.get_attentions(encoder.model, encoder.tokenizer, SENTENCE)
    assert labels[0] == "[CLS]" and labels[-1] == "[SEP]"
    assert att.shape == (6, 12, len(labels), len(labels))
    mass = attention.upper_triangle_mass(att)  # (6, 12): weight on later tokens, out of seq_len rows
    assert float(mass.mean()) > 1.0 and int((mass > 0.1).sum()) > 60


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_text_is_refused(decoder, text):
    with pytest.raises(ValueError, match="empty"):
        attention.get_attentions(decoder.model, decoder.tokenizer, text)


def test_text_longer_than_context_is_refused(decoder):
    with pytest.raises(ValueError, match="context holds at most 8192"):
        attention.get_attentions(decoder.model, decoder.tokenizer, "hello " * 9000)


def test_encoder_context_is_512(encoder):
    with pytest.raises(ValueError, match="at most 512"):
        attention.get_attentions(encoder.model, encoder.tokenizer, "word " * 600)


def test_display_limit_is_explained(decoder):
    with pytest.raises(ValueError, match="at most 5 so the labels"):
        attention.get_attentions(decoder.model, decoder.tokenizer, SENTENCE, max_tokens=5)


def test_non_eager_model_gets_a_fix():
    fake = SimpleNamespace(config=SimpleNamespace(_attn_implementation="sdpa"))
    with pytest.raises(ValueError, match='attn_implementation="eager"'):
        attention.require_eager(fake)


@pytest.mark.parametrize("layer, head, word", [(30, 0, "layer"), (-1, 0, "layer"), (0, 9, "head"),
                                               (0, -1, "head"), (True, 0, "layer"), (0, 1.5, "head")])
def test_layer_head_out_of_range(decoder, layer, head, word):
    with pytest.raises(ValueError, match=f"{word} must be an integer from 0 to"):
        attention.check_layer_head(decoder.attentions, layer, head)
    with pytest.raises(ValueError, match=word):
        widgets.attention_view(decoder.model, decoder.tokenizer, SENTENCE, layer, head)
    if isinstance(layer, int) and not 0 <= layer < 30:
        with pytest.raises(ValueError, match="layer"):
            attention.head_by_hand(decoder.model, decoder.out.hidden_states[0][0], layer, head)


# --- head scores -----------------------------------------------------------------------


def test_scores_match_a_plain_loop():
    torch.manual_seed(0)
    att = torch.rand(2, 3, 5, 5).softmax(-1)
    prev = attention.diagonal_scores(att, offset=-1)
    first = attention.first_token_scores(att)
    for L in range(2):
        for H in range(3):
            assert torch.isclose(prev[L, H], sum(att[L, H, i, i - 1] for i in range(1, 5)) / 4)
            assert torch.isclose(first[L, H], sum(att[L, H, i, 0] for i in range(1, 5)) / 4)
    scores = torch.zeros(4, 3)
    scores[2, 1] = 1.0
    assert attention.best_head(scores) == (2, 1)


def test_scores_need_two_tokens():
    with pytest.raises(ValueError, match="two tokens"):
        attention.diagonal_scores(torch.ones(1, 1, 1, 1), offset=-1)
    with pytest.raises(ValueError, match="two tokens"):
        attention.first_token_scores(torch.ones(1, 1, 1, 1))


def test_previous_token_head_is_found(decoder):
    scores = attention.diagonal_scores(decoder.attentions, offset=-1)
    assert attention.best_head(scores) == (16, 0)
    assert float(scores[16, 0]) > 0.7


# --- figures and the widget -------------------------------------------------------------


def test_figures_are_returned(decoder):
    labels = attention.token_labels(decoder.tokenizer, decoder.tokenizer(SENTENCE)["input_ids"])
    att = decoder.attentions
    assert isinstance(viz.attention_heatmap(att[0, 0], labels, title="층 0"), Figure)
    grid = viz.attention_heads_grid(att, labels, layer=2)
    assert isinstance(grid, Figure) and len(grid.axes) == 9
    assert isinstance(viz.attention_side_by_side(att[0, 0], labels, att[1, 1], labels), Figure)
    assert isinstance(viz.head_score_map(attention.first_token_scores(att), mark=(1, 2)), Figure)
    with pytest.raises(ValueError, match="square"):
        viz.attention_heatmap(torch.ones(2, 3))
    with pytest.raises(ValueError, match="layer"):
        viz.attention_heads_grid(att, labels, layer=99)


def test_attention_view_is_pure_and_cached(decoder):
    cache = {}
    fig = widgets.attention_view(decoder.model, decoder.tokenizer, SENTENCE, 16, 0, cache=cache)
    assert isinstance(fig, Figure) and fig.axes[0].get_title() == "layer 16, head 0"
    assert cache["text"] == SENTENCE
    image = fig.axes[0].images[0].get_array()
    assert torch.allclose(torch.as_tensor(image.data), decoder.attentions[16, 0])
    with pytest.raises(ValueError, match="empty"):
        widgets.attention_view(decoder.model, decoder.tokenizer, "", 0, 0)


def test_explorer_widget(decoder):
    import ipywidgets

    w = widgets.attention_explorer(decoder.model, decoder.tokenizer, SENTENCE, layer=16, head=0)
    assert isinstance(w, ipywidgets.VBox)
    text_box, sliders, message, image = w.children
    layer_slider, head_slider = sliders.children
    assert layer_slider.max == 29 and head_slider.max == 8 and text_box.value == SENTENCE
    assert bytes(image.value).startswith(b"\x89PNG") and message.value == ""
    head_slider.value = 3  # redraws from the cached weights
    assert bytes(image.value).startswith(b"\x89PNG")
    text_box.value = ""  # a bad sentence shows the message, it does not raise
    assert "empty" in message.value
    assert plt.get_fignums() == []  # figures are closed after drawing into the image


# --- self-checks and worked solutions -----------------------------------------------------


@pytest.fixture(scope="module")
def sol(load_solutions):
    return load_solutions("03_attention")


def test_exercise_1(decoder, sol):
    assert checks.attention_kv_head(sol.exercise_1_kv_head(decoder.model, 7), decoder.model, 7)
    assert sol.exercise_1_kv_head(decoder.model, 7) == 2
    assert not checks.attention_kv_head(7, decoder.model, 7)
    assert not checks.attention_kv_head("2", decoder.model, 7)
    assert not checks.attention_kv_head(None, decoder.model, 7)


def test_exercise_1_accepts_whole_numbers(decoder):
    """`7 // (9 / 3)` is 2.0: a whole number in another type is still the right answer."""
    config = decoder.model.config
    assert checks.attention_kv_head(7 // (config.num_attention_heads / config.num_key_value_heads), decoder.model, 7)
    assert checks.attention_kv_head(2.0, decoder.model, 7)
    assert checks.attention_kv_head(torch.tensor(2), decoder.model, 7)
    assert checks.attention_kv_head(torch.tensor(2.0), decoder.model, 7)
    assert not checks.attention_kv_head(2.5, decoder.model, 7)
    assert not checks.attention_kv_head(float("nan"), decoder.model, 7)
    assert not checks.attention_kv_head(torch.tensor([2]), decoder.model, 7)
    assert not checks.attention_kv_head(True, decoder.model, 7)


def test_exercise_2(decoder, sol):
    answer = sol.exercise_2_previous_token_head(decoder.attentions)
    assert checks.attention_previous_token_head(answer, decoder.attentions)
    assert not checks.attention_previous_token_head((0, 0), decoder.attentions)
    assert not checks.attention_previous_token_head((99, 0), decoder.attentions)
    assert not checks.attention_previous_token_head("16, 0", decoder.attentions)
    assert not checks.attention_previous_token_head(None, decoder.attentions)


def test_exercise_3(decoder, sol):
    layer, head = 20, 8
    model, tokenizer = decoder.model, decoder.tokenizer
    answer = sol.exercise_3_head_by_hand(model)
    assert checks.attention_head_by_hand(answer, model, tokenizer, SENTENCE, layer, head)
    # The model's own weights, handed back, are not a computation by hand: neither the tensor ...
    assert not checks.attention_head_by_hand(decoder.attentions[layer, head], model, tokenizer, SENTENCE, layer, head)
    # ... nor a function that looks them up in the stored attentions (fails on the unseen sentence) ...
    stored = decoder.attentions
    assert not checks.attention_head_by_hand(lambda hs, lay, hd: stored[lay, hd], model, tokenizer, SENTENCE, layer, head)

    # ... nor one that runs the model, or the course's own function.
    def runs_the_model(hidden_states, lay, hd):
        return model(inputs_embeds=hidden_states[0], output_attentions=True).attentions[lay][0, hd]

    def uses_the_helper(hidden_states, lay, hd):
        return attention.head_by_hand(model, hidden_states[lay][0], lay, hd)

    for cheat in (runs_the_model, uses_the_helper):
        result = checks.attention_head_by_hand(cheat, model, tokenizer, SENTENCE, layer, head)
        assert not result and "직접 계산" in result.message
    assert not checks.attention_head_by_hand(lambda hs, lay, hd: torch.ones(3), model, tokenizer, SENTENCE, layer, head)
    assert not checks.attention_head_by_hand(None, model, tokenizer, SENTENCE, layer, head)
    assert not checks.attention_head_by_hand(lambda hs, lay, hd: None, model, tokenizer, SENTENCE, layer, head)