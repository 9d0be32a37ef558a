"""The worked solutions of notebook 09 pass its self-checks; wrong answers and junk fail them without raising."""

import math

import pytest
import torch

from llm_course import checks, finetune

TOY_BATCH = {"input_ids": [[11, 12, 13], [21, 22, 23, 24, 25], [31, 32], [41, 42, 43]],
             "attention_mask": [[1, 1, 1], [1, 1, 1, 1, 1], [1, 1], [1, 1, 1]]}
JUNK = [None, "abc", "5.75", [], {}, [[1, 2]], float("nan"), True, object(), torch.ones(2, 2)]


@pytest.fixture(scope="module")
def solutions(load_solutions):
    return load_solutions("09_finetuning")


@pytest.fixture(scope="module")
def smollm2_shapes():
    from transformers import AutoConfig, AutoModelForCausalLM

    from llm_course import models

    with torch.device("meta"):  # the notebook's exercise model: shapes without weights
        return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(models.model_path()))


def never_raises_and_fails(check, *args):
    for junk in JUNK:
        result = check(junk, *args)
        assert not result, junk


def test_exercise_1_group_texts(solutions):
    answer = solutions.exercise_1_group_texts(TOY_BATCH, 4)
    assert answer == [[11, 12, 13, 21], [22, 23, 24, 25], [31, 32, 41, 42]]
    assert checks.finetune_group_texts(answer, TOY_BATCH, 4)
    assert checks.finetune_group_texts(finetune.group_texts(TOY_BATCH, 4), TOY_BATCH, 4)  # the whole dict is fine
    with_remainder = checks.finetune_group_texts(answer + [[43]], TOY_BATCH, 4)
    assert not with_remainder and "remainder" in with_remainder.message
    per_row = checks.finetune_group_texts([[11, 12, 13], [21, 22, 23, 24], [25], [31, 32], [41, 42, 43]], TOY_BATCH, 4)
    assert not per_row and "join all rows" in per_row.message
    assert not checks.finetune_group_texts([[21, 22, 23, 24], [11, 12, 13, 25], [31, 32, 41, 42]], TOY_BATCH, 4)
    never_raises_and_fails(checks.finetune_group_texts, TOY_BATCH, 4)


def test_exercise_2_perplexity(solutions):
    answer = solutions.exercise_2_perplexity(1.75)
    assert answer == pytest.approx(5.7546, rel=1e-4)
    assert checks.finetune_perplexity_from_loss(answer, 1.75)
    assert checks.finetune_perplexity_from_loss(torch.tensor(1.75).exp(), 1.75)
    assert "nats" in checks.finetune_perplexity_from_loss(2 ** 1.75, 1.75).message
    assert not checks.finetune_perplexity_from_loss(1.75, 1.75)
    assert not checks.finetune_perplexity_from_loss(math.log(1.75), 1.75)
    never_raises_and_fails(checks.finetune_perplexity_from_loss, 1.75)


def test_exercise_3_lora_count(solutions, smollm2_shapes):
    answer = solutions.exercise_3_lora_count()
    assert answer == 460_800
    assert checks.finetune_lora_count(answer, smollm2_shapes, r=8, target_modules=["q_proj", "v_proj"])
    one_layer = checks.finetune_lora_count(answer // 30, smollm2_shapes, r=8, target_modules=["q_proj", "v_proj"])
    assert not one_layer and "one layer" in one_layer.message
    same_size = 30 * 2 * 8 * (576 + 576)  # v_proj counted as large as q_proj
    assert not checks.finetune_lora_count(same_size, smollm2_shapes, r=8, target_modules=["q_proj", "v_proj"])
    whole = 30 * (576 * 576 + 576 * 192)
    assert "r × (in + out)" in checks.finetune_lora_count(whole, smollm2_shapes, 8, ["q_proj", "v_proj"]).message
    never_raises_and_fails(checks.finetune_lora_count, smollm2_shapes, 8, ["q_proj", "v_proj"])


def test_exercise_4_completion_labels(solutions, chat_tokenizer):
    chat = [{"role": "user", "content": "대한민국의 주권은 누구에게 있나요?"},
            {"role": "assistant", "content": "대한민국의 주권은 국민에게 있습니다."}]
    full_ids = chat_tokenizer.apply_chat_template(chat, return_dict=True)["input_ids"]
    prompt_ids = chat_tokenizer.apply_chat_template(chat[:1], add_generation_prompt=True, return_dict=True)["input_ids"]
    labels = solutions.exercise_4_completion_labels(full_ids, prompt_ids)
    assert checks.finetune_completion_labels(labels, full_ids, prompt_ids)
    assert checks.finetune_completion_labels(torch.tensor(labels), full_ids, prompt_ids)
    n = len(prompt_ids)
    assert "wrong part" in checks.finetune_completion_labels(
        full_ids[:n] + [-100] * (len(full_ids) - n), full_ids, prompt_ids).message
    assert "Off by one" in checks.finetune_completion_labels(
        [-100] * (n + 1) + full_ids[n + 1:], full_ids, prompt_ids).message
    assert "-100 is what the loss skips" in checks.finetune_completion_labels(
        [0] * n + full_ids[n:], full_ids, prompt_ids).message
    assert not checks.finetune_completion_labels(labels[:-1], full_ids, prompt_ids)
    assert not checks.finetune_completion_labels(full_ids, full_ids, prompt_ids)
    never_raises_and_fails(checks.finetune_completion_labels, full_ids, prompt_ids)
    # The labels do what the exercise says: the model's loss counts only the answer's tokens.
    predicted = sum(1 for label in labels[1:] if label != -100)
    assert predicted == len(full_ids) - n


def test_exercise_5_training_memory(solutions):
    answer = solutions.exercise_5_training_memory(361_821_120)
    assert answer == pytest.approx(5.789, rel=1e-3)
    assert checks.finetune_training_memory(answer, 361_821_120)
    assert "weights only" in checks.finetune_training_memory(4 * 361_821_120 / 1e9, 361_821_120).message
    assert "GiB" in checks.finetune_training_memory(16 * 361_821_120 / 2**30, 361_821_120).message
    assert not checks.finetune_training_memory(5789, 361_821_120)
    never_raises_and_fails(checks.finetune_training_memory, 361_821_120)
