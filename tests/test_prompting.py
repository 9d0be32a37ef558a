"""llm_course.prompting (notebook 06): the batched, prefix-cached scorer agrees
with scoring each prompt alone, prompts are built as the notebook shows them,
bad input gets a clear message, and the worked solutions pass the self-checks."""

import pytest
import torch

from llm_course import checks, prompting, viz

LABEL_WORDS = (" positive", " negative")


@pytest.fixture(scope="module")
def reviews():
    return prompting.load_reviews()


@pytest.fixture(scope="module")
def shots(reviews):
    return [r for r in reviews if r.split == "shot"]


@pytest.fixture(scope="module")
def test_set(reviews):
    return [r for r in reviews if r.split == "test"]


@pytest.fixture(scope="module")
def solutions(load_solutions):
    return load_solutions("06_prompting")


def test_reviews_are_balanced_and_bilingual(reviews, shots, test_set):
    assert len(test_set) >= 40 and len(shots) == 8
    for lang in ("ko", "en"):
        for label in prompting.LABELS:
            assert sum(r.lang == lang and r.label == label for r in test_set) == len(test_set) // 4
    assert len({r.id for r in reviews}) == len(reviews)
    assert not {r.text for r in shots} & {r.text for r in test_set}, "a shot must not be a test review"


def test_few_shot_prompt_layout(shots):
    prompt = prompting.few_shot_prompt("Nice.", shots[:2], instruction="Classify.")
    assert prompt == (f"Classify.\n\nReview: {shots[0].text}\nSentiment: {shots[0].label}\n\n"
                      f"Review: {shots[1].text}\nSentiment: {shots[1].label}\n\nReview: Nice.\nSentiment:")
    assert prompting.few_shot_prompt("Nice.") == "Review: Nice.\nSentiment:"
    renamed = prompting.few_shot_prompt("x", shots[:1], label_names={"positive": "good", "negative": "bad"})
    assert "Sentiment: good" in renamed


def test_label_logprobs_agrees_with_scoring_each_prompt_alone(chat_model, chat_tokenizer, shots, test_set):
    # mixed: shared 4-shot prefix for most, plus a zero-shot prompt (no shared prefix then)
    prompts = [prompting.few_shot_prompt(r.text, shots[:4]) for r in test_set[::9]]
    for group in (prompts, prompts + [prompting.few_shot_prompt(test_set[30].text)]):
        fast = prompting.label_logprobs(chat_model, chat_tokenizer, group, LABEL_WORDS, batch_size=3)
        ids = prompting.label_token_ids(chat_tokenizer, LABEL_WORDS)
        with torch.no_grad():
            alone = torch.stack([
                chat_model(**chat_tokenizer(p, return_tensors="pt")).logits[0, -1].log_softmax(-1)[ids]
                for p in group])
        assert torch.allclose(fast, alone, atol=1e-3), (fast - alone).abs().max()


def test_greedy_answers_match_generate_alone(chat_model, chat_tokenizer, test_set):
    prompts = [prompting.few_shot_prompt(r.text) for r in (test_set[0], test_set[30])]
    side = chat_tokenizer.padding_side
    batched = prompting.greedy_answers(chat_model, chat_tokenizer, prompts, max_new_tokens=2)
    for prompt, answer in zip(prompts, batched):
        inputs = chat_tokenizer(prompt, return_tensors="pt")
        out = chat_model.generate(**inputs, do_sample=False, max_new_tokens=2)
        assert answer == chat_tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert chat_tokenizer.padding_side == side, "greedy_answers must restore the tokenizer's padding side"


def test_bad_input_gets_a_clear_message(chat_model, chat_tokenizer):
    with pytest.raises(ValueError, match="one token each"):
        prompting.label_token_ids(chat_tokenizer, (" 긍정", " 부정"))
    with pytest.raises(ValueError, match="share a token"):
        prompting.label_token_ids(chat_tokenizer, (" good", " good"))
    with pytest.raises(ValueError, match="empty"):
        prompting.label_logprobs(chat_model, chat_tokenizer, [], LABEL_WORDS)
    with pytest.raises(TypeError, match="list of strings"):
        prompting.label_logprobs(chat_model, chat_tokenizer, "Review: x\nSentiment:", LABEL_WORDS)
    with pytest.raises(ValueError, match="at least 1"):
        prompting.label_logprobs(chat_model, chat_tokenizer, ["a"], LABEL_WORDS, batch_size=0)
    with pytest.raises(ValueError, match="positive integer"):
        prompting.greedy_answers(chat_model, chat_tokenizer, ["a"], max_new_tokens=0)
    with pytest.raises(ValueError, match="end with"):
        prompting.few_shot_prompt("x", example_format="{label}: {text}")
    with pytest.raises(ValueError, match="as many predictions"):
        prompting.accuracy(["positive"], ["positive", "negative"])


def test_load_reviews_rejects_unknown_labels(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tsplit\tlang\tlabel\ttext\nx1\ttest\ten\tneutral\tMeh.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label"):
        prompting.load_reviews(bad)


def test_summarize_and_table():
    class R:
        def __init__(self, lang, label):
            self.lang, self.label = lang, label

    gold = [R("en", "positive"), R("en", "negative"), R("ko", "positive"), R("ko", "negative")]
    row = prompting.summarize(["positive", "positive", "positive", "negative"], gold)
    assert row == {"all": 0.75, "en": 0.5, "ko": 1.0, "share positive": 0.75}
    assert "0.750" in prompting.accuracy_table({0: row}, key_name="shots")


def test_accuracy_plot_returns_a_figure():
    row = {"all": 0.7, "en": 0.8, "ko": 0.6, "share positive": 0.5}
    fig = viz.plot_accuracy_by_shots({0: row, 2: row}, n_test=48)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) >= 4


def test_solution_1_token_count(solutions, chat_tokenizer, shots, test_set):
    prompt = prompting.few_shot_prompt(test_set[24].text, shots[:8])
    answer = solutions.exercise_1_token_count(chat_tokenizer, prompt)
    assert checks.prompting_token_count(answer, prompt, chat_tokenizer, 8192)
    assert not checks.prompting_token_count(len(prompt), prompt, chat_tokenizer, 8192)  # characters
    assert not checks.prompting_token_count(None, prompt, chat_tokenizer, 8192)


def test_solution_2_negative_shots(solutions, chat_model, chat_tokenizer, shots, test_set):
    answer = solutions.exercise_2_negative_shots(chat_model, chat_tokenizer, shots, test_set)
    assert 0 <= answer <= 1
    assert checks.prompting_negative_shots(answer, chat_model, chat_tokenizer, shots, test_set)
    assert not checks.prompting_negative_shots(answer + 0.1, chat_model, chat_tokenizer, shots, test_set)
    assert not checks.prompting_negative_shots("a lot", chat_model, chat_tokenizer, shots, test_set)
    assert not checks.prompting_negative_shots(None, chat_model, chat_tokenizer, shots, test_set)


def test_solution_3_label_words(solutions, chat_model, chat_tokenizer, shots, test_set):
    answer = solutions.exercise_3_label_words(chat_model, chat_tokenizer, shots, test_set)
    assert checks.prompting_label_words(answer, chat_model, chat_tokenizer, shots, test_set)
    assert not checks.prompting_label_words(answer - 0.1, chat_model, chat_tokenizer, shots, test_set)
    assert not checks.prompting_label_words(None, chat_model, chat_tokenizer, shots, test_set)
