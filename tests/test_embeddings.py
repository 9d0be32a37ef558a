"""Notebook 02 (embeddings): the from-scratch code agrees with the libraries,
bad input gets a clear message, figures come back as objects, and the worked
solutions pass their self-checks while wrong answers fail them."""

import warnings

import matplotlib
import pytest
import torch
import torch.nn.functional as F

from llm_course import checks, embeddings, models, viz



@pytest.fixture(scope="module")
def st_model():
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.disable_progress_bar()
    return SentenceTransformer(models.model_path("all-minilm-l6-v2"), device="cpu")


@pytest.fixture(scope="module")
def encoder():
    return models.load_tokenizer("all-minilm-l6-v2"), models.load_model("all-minilm-l6-v2")


@pytest.fixture(scope="module")
def data():
    return embeddings.load_sentences()


@pytest.fixture(scope="module")
def solutions(load_solutions):
    return load_solutions("02_embeddings")


# --------------------------------------------------------------------------
# The course's sentences
# --------------------------------------------------------------------------


def test_sentences_file(data):
    assert len(data["heatmap"]) >= 4
    assert len(data["groups"]) == 4 and all(len(v) == 3 for v in data["groups"].values())
    for lang in ("en", "ko"):
        assert len(data["search"][lang]["sentences"]) == 10
        assert len(data["search"][lang]["queries"]) == 10


# --------------------------------------------------------------------------
# Token embeddings
# --------------------------------------------------------------------------


def test_cosine_similarity_matches_torch():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 16, generator=gen), torch.randn(5, 16, generator=gen)
    assert torch.allclose(embeddings.cosine_similarity(a, b), F.cosine_similarity(a, b, dim=-1), atol=1e-6)
    assert torch.allclose(embeddings.cosine_similarity(a, b[:1]), F.cosine_similarity(a, b[:1], dim=-1), atol=1e-6)


def test_token_id_and_nearest_tokens(chat_tokenizer, chat_model):
    E = chat_model.get_input_embeddings().weight.detach()
    assert embeddings.token_id(chat_tokenizer, " cat") == 2644
    near = embeddings.nearest_tokens(chat_tokenizer, E, " Monday", k=4)
    assert near[0] == ("ĠMonday", 1.0)
    assert near[1][0] == "ĠTuesday"
    assert [s for _, s in near] == sorted((s for _, s in near), reverse=True)


@pytest.mark.parametrize("bad, words", [("", "empty"), ("고양이", "not one"), (None, "empty")])
def test_token_id_bad_input(chat_tokenizer, bad, words):
    with pytest.raises(ValueError, match=words):
        embeddings.token_id(chat_tokenizer, bad)


def test_token_id_error_shows_readable_pieces(chat_tokenizer):
    # the pieces are written as notebook 01 teaches (hex bytes), not as raw byte-level symbols
    with pytest.raises(ValueError) as err:
        embeddings.token_id(chat_tokenizer, "고양이")
    assert "['<EA>', '<B3>', '<A0>', '<EC>', '<96>', '<91>', '이']" in str(err.value)
    assert "ê" not in str(err.value)


@pytest.mark.parametrize("k", [0, 10**6, 2.5])
def test_nearest_tokens_bad_k(chat_tokenizer, chat_model, k):
    E = chat_model.get_input_embeddings().weight.detach()
    with pytest.raises(ValueError, match="k must be"):
        embeddings.nearest_tokens(chat_tokenizer, E, " cat", k=k)


def test_embedding_layer_is_shared_with_lm_head(chat_model):
    assert chat_model.lm_head.weight.data_ptr() == chat_model.get_input_embeddings().weight.data_ptr()


# --------------------------------------------------------------------------
# Sentence embeddings
# --------------------------------------------------------------------------


def test_mean_pooling_equals_sentence_transformers(st_model, encoder, data):
    tokenizer, model = encoder
    sentences = data["heatmap"] + data["search"]["en"]["sentences"]
    mine = embeddings.sentence_embeddings(sentences, tokenizer, model)
    library = st_model.encode(sentences, convert_to_tensor=True)
    assert mine.shape == library.shape == (len(sentences), 384)
    assert torch.allclose(mine, library, atol=1e-5)
    assert torch.allclose(mine.norm(dim=-1), torch.ones(len(sentences)), atol=1e-5)


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])  # (1, 3, 2); the last token is padding
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(embeddings.mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))


@pytest.mark.parametrize("bad, words", [([], "No sentences"), ([""], "empty"), (["ok", "  "], "Sentence 1 is empty")])
def test_sentence_embeddings_bad_input(encoder, bad, words):
    tokenizer, model = encoder
    with pytest.raises(ValueError, match=words):
        embeddings.sentence_embeddings(bad, tokenizer, model)


def test_sentence_embeddings_too_long(encoder):
    tokenizer, model = encoder
    long_text = " ".join(["The cat sleeps on the warm sofa all afternoon."] * 80)
    with pytest.raises(ValueError, match=r"at most 512.*Split"):
        embeddings.sentence_embeddings([long_text], tokenizer, model)


def test_semantic_search_english(st_model, data):
    docs = st_model.encode(data["search"]["en"]["sentences"], convert_to_tensor=True)
    queries = st_model.encode(data["search"]["en"]["queries"], convert_to_tensor=True)
    best = [embeddings.semantic_search(q, docs, k=1)[0] for q in queries]
    assert best == list(range(10))
    with pytest.raises(ValueError, match="k must be"):
        embeddings.semantic_search(queries[0], docs, k=11)


def test_within_between(st_model, data):
    sentences = [s for topic in data["groups"].values() for s in topic]
    topics = [name for name, topic in data["groups"].items() for _ in topic]
    X = st_model.encode(sentences, convert_to_tensor=True)
    within, between = embeddings.mean_similarity_within_and_between(X, topics)
    assert within > between
    with pytest.raises(ValueError, match="one label per vector"):
        embeddings.mean_similarity_within_and_between(X, topics[:-1])


# --------------------------------------------------------------------------
# Positions
# --------------------------------------------------------------------------


def test_rope_matches_transformers(chat_model):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    head_dim = chat_model.config.head_dim
    theta = chat_model.config.rope_parameters["rope_theta"]
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(1, 3, 12, head_dim, generator=gen)  # (batch, heads, seq_len, head_dim)
    k = torch.randn(1, 3, 12, head_dim, generator=gen)
    positions = torch.arange(12)
    cos, sin = chat_model.model.rotary_emb(q, positions[None, :])
    q_lib, k_lib = apply_rotary_pos_emb(q, k, cos, sin)
    assert torch.allclose(embeddings.rope_rotate(q, positions, theta), q_lib, atol=1e-5)
    assert torch.allclose(embeddings.rope_rotate(k, positions, theta), k_lib, atol=1e-5)
    inv = embeddings.rope_inverse_frequencies(head_dim, theta)
    assert torch.allclose(inv, chat_model.model.rotary_emb.inv_freq, atol=1e-7)


def test_rope_score_depends_only_on_offset():
    gen = torch.Generator().manual_seed(1)
    q, k = torch.randn(1, 64, generator=gen), torch.randn(1, 64, generator=gen)

    def score(m, n):
        return float(embeddings.rope_rotate(q, torch.tensor([m]), 1e5) @ embeddings.rope_rotate(k, torch.tensor([n]), 1e5).T)

    assert score(7, 3) == pytest.approx(score(207, 203), abs=1e-4)
    curve = embeddings.rope_score_by_distance(64, 1e5, max_distance=256)
    assert curve[0] == pytest.approx(1.0, abs=1e-6)
    assert curve[1] > curve[10] > curve[100] > curve[256]


def test_rope_bad_input():
    with pytest.raises(ValueError, match="even"):
        embeddings.rope_inverse_frequencies(63, 1e4)
    with pytest.raises(ValueError, match="non-negative"):
        embeddings.rope_score_by_distance(64, 1e4, max_distance=-1)


def test_learned_position_similarity(encoder):
    _, model = encoder
    P = model.embeddings.position_embeddings.weight.detach()
    curve = embeddings.similarity_by_distance(P, max_distance=256)
    assert curve.shape == (257,)
    assert curve[0] == pytest.approx(1.0, abs=1e-5)
    assert curve[1] > 0.7
    with pytest.raises(ValueError, match="max_distance"):
        embeddings.similarity_by_distance(P, max_distance=512)


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------


def test_figures_are_returned_without_missing_glyphs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "Glyph ... missing" warning fails the test
        labels = ["A cat is sleeping on the sofa.", "고양이가 소파에서 자고 있다.", "Stock prices fell."]
        fig = viz.similarity_heatmap(torch.eye(3), labels)
        fig.canvas.draw()
        assert isinstance(fig, matplotlib.figure.Figure)
        fig = viz.projection_scatter(torch.randn(3, 2), labels, ["a", "b", "a"], explained=[0.2, 0.1])
        fig.canvas.draw()
        assert isinstance(fig, matplotlib.figure.Figure)
        fig = viz.position_pictures(torch.randn(8, 8), torch.randn(8, 4), torch.rand(10), torch.rand(10))
        fig.canvas.draw()
        assert len(fig.axes) == 4


def test_figures_bad_input():
    with pytest.raises(ValueError, match="square"):
        viz.similarity_heatmap(torch.ones(2, 3), ["a", "b"])
    with pytest.raises(ValueError, match="one label"):
        viz.projection_scatter(torch.ones(3, 2), ["a", "b"], ["x", "y"])


# --------------------------------------------------------------------------
# Exercises: worked solutions pass, wrong answers fail, blanks do not raise
# --------------------------------------------------------------------------


def test_exercise_1(solutions, chat_tokenizer, chat_model):
    answer = solutions.exercise_1_cat_dog(chat_tokenizer, chat_model)
    assert checks.embeddings_token_similarity(answer, chat_tokenizer, chat_model, " cat", " dog")
    assert not checks.embeddings_token_similarity(answer + 0.1, chat_tokenizer, chat_model, " cat", " dog")
    assert not checks.embeddings_token_similarity("high", chat_tokenizer, chat_model, " cat", " dog")
    assert not checks.embeddings_token_similarity(None, chat_tokenizer, chat_model, " cat", " dog")


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_exercise_2(solutions, st_model, data, lang):
    query = {"en": "Is it going to be wet outside tomorrow?", "ko": "내일 밖에 비가 올까요?"}[lang]
    docs = data["search"][lang]["sentences"]
    answer = solutions.exercise_2_top3(st_model, query, docs)
    assert len(answer) == 3
    assert checks.embeddings_semantic_search(answer, query, docs, st_model, k=3)
    assert not checks.embeddings_semantic_search(answer[::-1], query, docs, st_model, k=3)
    assert not checks.embeddings_semantic_search([answer[0], answer[2], answer[1]], query, docs, st_model, k=3)
    assert not checks.embeddings_semantic_search(None, query, docs, st_model, k=3)
    assert not checks.embeddings_semantic_search("5", query, docs, st_model, k=3)


def test_exercise_2_english_finds_the_rain_sentence(solutions, st_model, data):
    docs = data["search"]["en"]["sentences"]
    assert solutions.exercise_2_top3(st_model, "Is it going to be wet outside tomorrow?", docs)[0] == 5
