"""llm_course.generation (notebook 05): the hand-written pieces agree with transformers,
bad settings give clear messages, and the notebook's exercises, plots and playground work."""

import warnings

import pytest
import torch
from transformers import (LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper,
                          TopPLogitsWarper)

from llm_course import checks, generation, viz, widgets


@pytest.fixture(scope="module")
def solutions(load_solutions):
    return load_solutions("05_generation")


@pytest.fixture(scope="module")
def next_logits(chat_model, chat_tokenizer):
    """The real next-token logits of one prompt, shape (1, vocab_size)."""
    enc = chat_tokenizer("The best thing about summer is", return_tensors="pt")
    with torch.no_grad():
        return chat_model(**enc).logits[:, -1, :]


def random_logits(seed, shape=(3, 500)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 3


# --------------------------------------------------------------------------
# The loop by hand equals generate(do_sample=False)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["The capital of France is", "I am a cat."])
def test_greedy_decode_equals_generate(chat_model, chat_tokenizer, prompt):
    enc = chat_tokenizer(prompt, return_tensors="pt")
    ours = generation.greedy_decode(chat_model, enc["input_ids"], max_new_tokens=8)
    with torch.no_grad():
        theirs = chat_model.generate(**enc, max_new_tokens=8, do_sample=False)
    assert ours.tolist() == theirs.tolist()


def test_greedy_decode_stops_at_eos_like_generate(chat_model, chat_tokenizer):
    messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    enc = chat_tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                             return_dict=True)
    eos = chat_model.generation_config.eos_token_id
    ours = generation.greedy_decode(chat_model, enc["input_ids"], max_new_tokens=30, eos_token_id=eos)
    with torch.no_grad():
        theirs = chat_model.generate(**enc, max_new_tokens=30, do_sample=False)
    assert ours.tolist() == theirs.tolist()
    assert ours[0, -1].item() == eos and ours.shape[1] - enc["input_ids"].shape[1] < 30


def test_greedy_decode_rejects_batches_and_bad_lengths(chat_model):
    with pytest.raises(ValueError, match=r"\(1, seq_len\)"):
        generation.greedy_decode(chat_model, torch.ones(2, 3, dtype=torch.long), max_new_tokens=2)
    with pytest.raises(ValueError, match=">= 1"):
        generation.greedy_decode(chat_model, torch.ones(1, 3, dtype=torch.long), max_new_tokens=0)


# --------------------------------------------------------------------------
# Temperature, top-k, top-p equal transformers' logits processors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.3, 0.7, 1.0, 1.5])
def test_temperature_equals_transformers(next_logits, temperature):
    for logits in (next_logits, random_logits(1)):
        theirs = TemperatureLogitsWarper(temperature)(None, logits)
        torch.testing.assert_close(generation.apply_temperature(logits, temperature), theirs)


@pytest.mark.parametrize("top_k", [1, 5, 50, 400])
def test_top_k_equals_transformers(next_logits, top_k):
    for logits in (next_logits, random_logits(2)):
        theirs = TopKLogitsWarper(top_k)(None, logits)
        assert torch.equal(generation.top_k_filter(logits, top_k), theirs)


@pytest.mark.parametrize("top_p", [0.05, 0.5, 0.9, 0.95, 1.0])
def test_top_p_equals_transformers(next_logits, top_p):
    for logits in (next_logits, random_logits(3), random_logits(4, (1, 50))):
        theirs = TopPLogitsWarper(top_p)(None, logits)
        assert torch.equal(generation.top_p_filter(logits, top_p), theirs)


def test_process_logits_applies_them_in_generates_order(next_logits):
    chain = LogitsProcessorList([TemperatureLogitsWarper(0.7), TopKLogitsWarper(20), TopPLogitsWarper(0.9)])
    ours = generation.process_logits(next_logits, temperature=0.7, top_k=20, top_p=0.9)
    assert torch.equal(torch.isfinite(ours), torch.isfinite(chain(None, next_logits)))
    torch.testing.assert_close(ours, chain(None, next_logits))


def test_top_k_off_and_top_p_one_change_nothing(next_logits):
    assert torch.equal(generation.top_k_filter(next_logits, None), next_logits)
    assert torch.equal(generation.top_k_filter(next_logits, 0), next_logits)
    assert torch.equal(generation.top_p_filter(next_logits, 1.0), next_logits)


def test_entropy_grows_with_temperature(next_logits):
    values = [generation.entropy_bits(generation.apply_temperature(next_logits[0], t).softmax(-1))
              for t in (0.5, 1.0, 1.5)]
    assert values[0] < values[1] < values[2]
    assert generation.entropy_bits(torch.tensor([1.0, 0.0])) == 0.0
    assert generation.entropy_bits(torch.tensor([0.5, 0.5])) == pytest.approx(1.0)


# --------------------------------------------------------------------------
# Bad settings: clear messages naming the valid range
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10", None])
def test_max_new_tokens_must_be_at_least_one(bad):
    with pytest.raises(ValueError, match=r"max_new_tokens must be a whole number >= 1"):
        generation.check_max_new_tokens(bad)


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.0001, 1.5, float("nan"), "high"])
def test_top_p_must_lie_in_zero_one(bad):
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        generation.check_top_p(bad)


@pytest.mark.parametrize("bad", [0, 0.0, -1.0])
def test_temperature_zero_with_sampling_points_to_greedy(bad):
    with pytest.raises(ValueError, match=r"temperature > 0.*do_sample=False"):
        generation.check_temperature(bad, do_sample=True)
    assert generation.check_temperature(bad, do_sample=False) == float(bad)  # greedy ignores it


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_top_k_must_be_a_positive_whole_number(bad):
    with pytest.raises(ValueError, match=r"top_k must be a whole number >= 1"):
        generation.check_top_k(bad)


def test_generate_text_checks_before_generating(chat_model, chat_tokenizer):
    cases = [dict(max_new_tokens=0), dict(max_new_tokens=-3), dict(top_p=1.5), dict(top_p=0.0),
             dict(temperature=0.0)]
    for bad in cases:
        with pytest.raises(ValueError, match="valid range|>= 1|\\(0, 1\\]"):
            generation.generate_text(chat_model, chat_tokenizer, "Hello", **bad)
    with pytest.raises(ValueError, match="non-empty"):
        generation.generate_text(chat_model, chat_tokenizer, "   ")


# --------------------------------------------------------------------------
# Repetition, the playground's generate function, warnings
# --------------------------------------------------------------------------


def test_repeated_ngram_share():
    assert generation.repeated_ngram_share([1, 2, 3, 4, 5], n=2) == 0.0
    assert generation.repeated_ngram_share([1, 2, 1, 2, 1, 2], n=2) == pytest.approx(3 / 5)
    assert generation.repeated_ngram_share(torch.tensor([7, 7, 7, 7]), n=1) == pytest.approx(3 / 4)
    assert generation.repeated_ngram_share([1, 2], n=3) == 0.0
    with pytest.raises(ValueError, match=">= 1"):
        generation.repeated_ngram_share([1, 2, 3], n=0)


def test_generate_text_greedy_matches_generate_and_sampling_is_seeded(chat_model, chat_tokenizer):
    prompt = "Once upon a time"
    enc = chat_tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = chat_model.generate(**enc, max_new_tokens=5, do_sample=False)
    expected = chat_tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    assert generation.generate_text(chat_model, chat_tokenizer, prompt, max_new_tokens=5, do_sample=False) == expected
    a = generation.generate_text(chat_model, chat_tokenizer, prompt, max_new_tokens=5, temperature=1.2, seed=3)
    b = generation.generate_text(chat_model, chat_tokenizer, prompt, max_new_tokens=5, temperature=1.2, seed=3)
    assert a == b


def test_continue_prompt_equals_generate_and_the_loop_by_hand(chat_model, chat_tokenizer):
    prompt = "I am a cat."
    enc = chat_tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = chat_model.generate(**enc, max_new_tokens=6, do_sample=False)
    new = generation.continue_prompt(chat_model, chat_tokenizer, prompt, max_new_tokens=6, do_sample=False)
    assert new.dim() == 1
    assert torch.equal(new, out[0, enc["input_ids"].shape[1]:])
    by_hand = generation.greedy_decode(chat_model, enc["input_ids"], 6)
    assert torch.equal(new, by_hand[0, enc["input_ids"].shape[1]:])
    # sampling is reproducible once the seed is set before the call, as notebook 05 does
    from transformers import set_seed

    set_seed(0)
    a = generation.continue_prompt(chat_model, chat_tokenizer, prompt, max_new_tokens=6, do_sample=True, top_k=0)
    set_seed(0)
    b = generation.continue_prompt(chat_model, chat_tokenizer, prompt, max_new_tokens=6, do_sample=True, top_k=0)
    assert torch.equal(a, b)


@pytest.mark.parametrize("bad, match", [(dict(prompt=""), "non-empty"), (dict(prompt="  "), "non-empty"),
                                        (dict(max_new_tokens=0), "max_new_tokens")])
def test_continue_prompt_checks_before_generating(bad, match):
    kwargs = {"prompt": "Hello", "max_new_tokens": 5, **bad}
    with pytest.raises(ValueError, match=match):
        generation.continue_prompt(None, None, kwargs.pop("prompt"), **kwargs)  # no model is ever touched


def test_continue_prompt_with_gemma_keeps_bos_and_equals_the_loop_by_hand():
    from llm_course import models

    tokenizer = models.load_tokenizer("gemma3-270m")
    model = models.load_model("gemma3-270m")
    prompt = "나는 고양이다."
    enc = tokenizer(prompt, return_tensors="pt")
    assert enc["input_ids"][0, 0].item() == tokenizer.bos_token_id  # the tokenizer puts <bos> in front itself
    new = generation.continue_prompt(model, tokenizer, prompt, max_new_tokens=4, do_sample=False)
    by_hand = generation.greedy_decode(model, enc["input_ids"], 4)
    assert torch.equal(new, by_hand[0, enc["input_ids"].shape[1]:])
    del model


def test_captured_warnings_collects_the_right_padding_warning(chat_model, chat_tokenizer):
    chat_tokenizer.padding_side = "right"
    try:
        batch = chat_tokenizer(["1, 2, 3", "A, B, C, D, E"], return_tensors="pt", padding=True)
        with generation.captured_warnings() as messages:
            with torch.no_grad():
                chat_model.generate(**batch, max_new_tokens=1, do_sample=False)
    finally:
        chat_tokenizer.padding_side = "right"
    assert any("right-padding" in m for m in messages)


def test_top_tokens_shows_spaces(next_logits, chat_tokenizer):
    pairs = generation.top_tokens(next_logits[0].softmax(-1), chat_tokenizer, k=5)
    assert len(pairs) == 5 and all(t[0] in "'\"" and t[-1] == t[0] for t, _ in pairs)
    assert pairs[0][1] >= pairs[-1][1]


# --------------------------------------------------------------------------
# Figures and the playground widget
# --------------------------------------------------------------------------


def test_figures_are_returned_without_missing_glyphs():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = [
            viz.token_probability_bars([("' Paris'", 0.5), ("' the'", 0.2)], title="다음 토큰"),
            viz.distribution_comparison(["a", "b"], {"T=0.5": [0.9, 0.1], "T=1.5": [0.6, 0.4]}),
            viz.value_bars(["탐욕", "샘플링"], [0.8, 0.1], ylabel="반복 비율"),
        ]
        for fig in figs:
            fig.canvas.draw()
    assert all(hasattr(f, "savefig") for f in figs)
    assert not [w for w in caught if "Glyph" in str(w.message)]
    with pytest.raises(ValueError):
        viz.distribution_comparison(["a", "b"], {"x": [1.0]})
    with pytest.raises(ValueError):
        viz.token_probability_bars([])


def test_generation_view_and_playground(chat_model, chat_tokenizer):
    text = widgets.generation_view(chat_model, chat_tokenizer, "Once upon a time", "greedy", max_new_tokens=5)
    assert text.startswith("[greedy") and "Once upon a time⟨" in text and text.endswith("⟩")
    with pytest.raises(ValueError, match="do_sample=False"):
        widgets.generation_view(chat_model, chat_tokenizer, "Hi", "sampling", temperature=0.0)
    with pytest.raises(ValueError, match="mode"):
        widgets.generation_view(chat_model, chat_tokenizer, "Hi", "beam")
    playground = widgets.generation_playground(chat_model, chat_tokenizer)
    names = [getattr(c, "description", "") for c in playground.children]
    for name in ("prompt", "mode", "temperature", "top_p", "max_new_tokens", "seed"):
        assert name in names


# --------------------------------------------------------------------------
# Exercises: solutions pass the self-checks, wrong answers fail them
# --------------------------------------------------------------------------


def test_exercise_1_new_text(solutions, chat_model, chat_tokenizer):
    enc = chat_tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        out = chat_model.generate(**enc, max_new_tokens=10, do_sample=False)
    n = enc["input_ids"].shape[1]
    assert checks.generation_new_text(solutions.exercise_1_new_text(chat_tokenizer, out, n), out, n, chat_tokenizer)
    whole = chat_tokenizer.decode(out[0], skip_special_tokens=True)
    assert not checks.generation_new_text(whole, out, n, chat_tokenizer)
    assert not checks.generation_new_text("Paris", out, n, chat_tokenizer)
    assert not checks.generation_new_text(None, out, n, chat_tokenizer)


@pytest.mark.parametrize("top_p", [0.5, 0.9])
def test_exercise_2_top_p_count(solutions, next_logits, top_p):
    logits = next_logits[0]
    answer = solutions.exercise_2_top_p_count(logits, top_p)
    assert checks.generation_top_p_count(answer, logits, top_p)
    assert not checks.generation_top_p_count(answer + 1, logits, top_p)
    assert not checks.generation_top_p_count(None, logits, top_p)


def test_exercise_3_batched_left_padding(solutions, chat_model, chat_tokenizer):
    prompts = ["1, 2, 3", "A, B, C, D, E"]
    try:
        answer = solutions.exercise_3_batched_left_padding(chat_model, chat_tokenizer, prompts, 4)
        assert checks.generation_batched_left_padding(answer, prompts, chat_model, chat_tokenizer, 4)
        chat_tokenizer.padding_side = "right"
        batch = chat_tokenizer(prompts, return_tensors="pt", padding=True)
        with generation.captured_warnings(), torch.no_grad():
            out = chat_model.generate(**batch, max_new_tokens=4, do_sample=False)
        wrong = [chat_tokenizer.decode(r[batch["input_ids"].shape[1]:], skip_special_tokens=True) for r in out]
        assert not checks.generation_batched_left_padding(wrong, prompts, chat_model, chat_tokenizer, 4)
        assert not checks.generation_batched_left_padding(["x"], prompts, chat_model, chat_tokenizer, 4)
        assert not checks.generation_batched_left_padding(None, prompts, chat_model, chat_tokenizer, 4)
    finally:
        chat_tokenizer.padding_side = "right"
