"""The worked solutions of notebook 04 pass its self-checks; wrong answers and junk fail them without raising."""

import pytest
import torch

from llm_course import checks, models, transformer

PROMPT = "The capital of France is"
JUNK = ["junk", True, [1, 2], {"a": 1}, float("nan"), torch.tensor([1.0, 2.0]), object()]


@pytest.fixture(scope="module")
def sol(load_solutions):
    return load_solutions("04_transformer_block")


@pytest.fixture(scope="module")
def smol():
    tokenizer = models.load_tokenizer()
    model = models.load_model(attn_implementation="eager")
    return tokenizer, model, transformer.encode_prompt(tokenizer, PROMPT, model)


def test_exercise_1_mlp_params(sol, smol):
    _, model, _ = smol
    answer = sol.exercise_1_mlp_params(model)
    assert answer == 2_654_208
    assert checks.transformer_mlp_params(answer, model)
    assert checks.transformer_mlp_params(float(answer), model)  # 2654208.0 is the same whole number
    assert checks.transformer_mlp_params(torch.tensor(answer), model)
    one_matrix = checks.transformer_mlp_params(576 * 1536, model)
    assert not one_matrix and "three" in one_matrix.message
    assert not checks.transformer_mlp_params(79_626_240, model)  # all 30 layers, not one
    assert not checks.transformer_mlp_params(None, model)
    assert not checks.transformer_mlp_params("2654208", model)
    for junk in JUNK:
        assert not checks.transformer_mlp_params(junk, model)


def test_exercise_2_mlp_by_hand(sol, smol):
    _, model, inputs = smol
    answer = sol.exercise_2_mlp_by_hand(model, inputs, 20)
    assert answer.shape == (576,)
    assert checks.transformer_mlp_by_hand(answer, model, inputs, layer=20)
    assert checks.transformer_mlp_by_hand(answer.tolist(), model, inputs, layer=20)  # a plain list is fine
    # Another layer's MLP, the MLP's own input, the wrong position, the wrong shape: all fail.
    assert not checks.transformer_mlp_by_hand(sol.exercise_2_mlp_by_hand(model, inputs, 3), model, inputs, layer=20)
    mlp_in, mlp_out = checks._mlp_truth(model, inputs, 20, -1)
    assert torch.allclose(answer, mlp_out, atol=1e-4)
    given_input = checks.transformer_mlp_by_hand(mlp_in, model, inputs, layer=20)
    assert not given_input and "input" in given_input.message
    _, first_position = checks._mlp_truth(model, inputs, 20, 0)
    assert not checks.transformer_mlp_by_hand(first_position, model, inputs, layer=20)
    assert not checks.transformer_mlp_by_hand(answer[None], model, inputs, layer=20)
    assert not checks.transformer_mlp_by_hand(None, model, inputs, layer=20)
    for junk in JUNK:
        assert not checks.transformer_mlp_by_hand(junk, model, inputs, layer=20)
    # A layer out of range is the notebook's mistake, not the answer's: an error that names `layer`.
    with pytest.raises(checks.CheckArgumentError, match="`layer`"):
        checks.transformer_mlp_by_hand(answer, model, inputs, layer=30)


@pytest.mark.parametrize("prompt, truth", [(PROMPT, 30), ("The opposite of up is", 26)])
def test_exercise_3_settled_layer(sol, smol, prompt, truth):
    tokenizer, model, _ = smol
    answer = sol.exercise_3_settled_layer(model, tokenizer, prompt)
    assert answer == truth
    assert checks.transformer_settled_layer(answer, model, tokenizer, prompt)
    assert checks.transformer_settled_layer(float(answer), model, tokenizer, prompt)
    assert not checks.transformer_settled_layer(answer - 1, model, tokenizer, prompt)
    assert not checks.transformer_settled_layer(answer + 1, model, tokenizer, prompt)
    assert not checks.transformer_settled_layer(None, model, tokenizer, prompt)
    for junk in JUNK:
        assert not checks.transformer_settled_layer(junk, model, tokenizer, prompt)


def test_exercise_3_with_a_bad_prompt_answers_instead_of_raising(smol):
    tokenizer, model, _ = smol
    for prompt in ["", "   ", None]:
        result = checks.transformer_settled_layer(30, model, tokenizer, prompt)
        assert not result and "my_prompt" in result.message
