"""The worked solutions of notebook 08 pass its self-checks, and wrong answers (including junk such as
strings with units, lists, None and near-miss floats) fail them without raising."""

import pytest
from transformers import MistralConfig

from llm_course import checks, memory


@pytest.fixture(scope="module")
def solutions(load_solutions):
    return load_solutions("08_quantization")


@pytest.fixture(scope="module")
def mistral_config():
    return MistralConfig(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=False)


JUNK = [None, "14.5 GB", "538 MB", [14.5], (1, 2), {"gb": 1}, float("nan"), float("inf"), True, object()]


def fails(result) -> bool:
    return isinstance(result, checks.CheckResult) and not result.passed


def test_exercise_1_weights_of_a_named_model(solutions, mistral_config):
    answer = solutions.exercise_1_weights_gb(mistral_config)
    assert answer == pytest.approx(14.48, abs=0.01)  # Mistral-7B: 7,241,732,096 parameters x 2 bytes
    assert checks.quantization_model_weights(answer, mistral_config, "bfloat16")
    for wrong in [answer * 2, answer / 2, answer * 1e9, 7.24, 14.0, *JUNK]:  # float32, int8, bytes, the count
        assert fails(checks.quantization_model_weights(wrong, mistral_config, "bfloat16")), wrong


def test_exercise_2_kv_cache(solutions):
    config = memory.llama3_8b_config()
    answer = solutions.exercise_2_kv_gb(config, 8192)
    assert answer == pytest.approx(1.0737, abs=1e-4)
    assert checks.quantization_kv_cache(answer, config, seq_len=8192, dtype="bfloat16")
    for wrong in [answer * 4, answer / 2, answer * 2, 1.0, *JUNK]:  # query heads, no x2, float32, rounded
        assert fails(checks.quantization_kv_cache(wrong, config, seq_len=8192, dtype="bfloat16")), wrong


def test_exercise_3_predicted_speed(solutions):
    n_llama = memory.count_parameters(memory.build_on_meta(memory.llama3_8b_config()))
    answer = solutions.exercise_3_predicted_tps(300, n_llama)
    assert answer == pytest.approx(37.36, abs=0.01)
    assert checks.quantization_tokens_per_second(answer, bandwidth_gb_s=300, n_params=n_llama, dtype="int8")
    for wrong in [answer / 2, answer * 1e9, 300 / 16.06, 300 / 4.5, 30.0, *JUNK]:  # bf16, units, 4-bit
        assert fails(checks.quantization_tokens_per_second(wrong, bandwidth_gb_s=300, n_params=n_llama,
                                                           dtype="int8")), wrong


def test_exercise_4_absmax_by_hand(solutions):
    values = [0.31, -0.8, 0.05, 0.62]
    answer = solutions.exercise_4_codes(values)
    assert answer == [49, -127, 8, 98]
    assert checks.quantization_absmax_by_hand(answer, values)
    assert checks.quantization_absmax_by_hand((49, -127, 8, 98), values)  # a tuple is a list of codes too
    truncated = [49, -127, 7, 98]  # int() instead of round()
    result = checks.quantization_absmax_by_hand(truncated, values)
    assert fails(result) and "round" in result.message
    for wrong in [[49, -127, 8], [0.31, -0.8, 0.05, 0.62], [39, -100, 6, 78], 49, "49, -127, 8, 98", *JUNK]:
        assert fails(checks.quantization_absmax_by_hand(wrong, values)), wrong


def test_a_unit_slip_gets_its_own_hint(solutions, mistral_config):
    answer = solutions.exercise_1_weights_gb(mistral_config)
    in_gib = checks.quantization_model_weights(answer * 1e9 / 2**30, mistral_config, "bfloat16")
    assert fails(in_gib) and "GiB" in in_gib.message and "10⁹" in in_gib.message
    in_mb = checks.quantization_model_weights(answer * 1e3, mistral_config, "bfloat16")
    assert fails(in_mb) and "MB" in in_mb.message
    config = memory.llama3_8b_config()
    kv_gib = checks.quantization_kv_cache(solutions.exercise_2_kv_gb(config, 8192) * 1e9 / 2**30, config,
                                          seq_len=8192, dtype="bfloat16")
    assert fails(kv_gib) and "GiB" in kv_gib.message
    with_unit = checks.quantization_kv_cache("1.07 GB", config, seq_len=8192, dtype="bfloat16")
    assert fails(with_unit) and "단위(GB)는 빼고 숫자로 넣으세요" in with_unit.message


@pytest.mark.parametrize("call, argument", [
    (lambda c: checks.quantization_kv_cache(1.07, c, seq_len=8192.0), "seq_len"),
    (lambda c: checks.quantization_kv_cache(None, c, seq_len=0), "seq_len"),
    (lambda c: checks.quantization_kv_cache(1.07, c, seq_len=8192, dtype="bf17"), "dtype"),
    (lambda c: checks.quantization_model_weights(None, {"hidden_size": 4096}), "config"),
    (lambda c: checks.quantization_tokens_per_second(37.4, bandwidth_gb_s="300", n_params=8e9), "bandwidth_gb_s"),
    (lambda c: checks.quantization_tokens_per_second(37.4, bandwidth_gb_s=300, n_params=-1), "n_params"),
    (lambda c: checks.quantization_absmax_by_hand([1, 2], [0.0, 0.0]), "values"),
])
def test_a_wrong_reference_argument_is_the_notebooks_bug(call, argument):
    # Not a ❌ for the learner: the cell passed the check a wrong value, and the error names it.
    with pytest.raises(checks.CheckArgumentError) as err:
        call(memory.llama3_8b_config())
    assert err.value.argument == argument and f"`{argument}`" in str(err.value)
    assert str(err.value).startswith("checks.quantization_")
