"""Every self-check blames the right party (llm_course.checks).

A check must never raise, whatever a learner types: a notebook has to run to
the end with its exercises blank or wrong. This test finds every check (each
carries the ``@self_check`` mark), calls it with junk of every kind, and
requires a verdict: ⏳ for a blank answer, ❌ for everything else, never an
exception. A check without arguments in CHECK_ARGUMENTS fails the test, so a
new lesson's checks cannot slip past it.

The other way round, a wrong *reference* argument (the notebook's bug) must
raise a CheckArgumentError that names it, and a bug inside a check must
propagate: the tests below feed every reference argument junk, and make a
check's own computation fail.
"""

import math

import numpy as np
import pytest
import torch
from transformers import BatchEncoding

from llm_course import checks, models, prompting
from llm_course.checks import AnswerProblem, CheckArgumentError, CheckResult

ALL_CHECKS = sorted(name for name, f in vars(checks).items() if getattr(f, "__self_check__", False))


def _raises(*args, **kwargs):
    raise RuntimeError("a learner's function that crashes")


JUNK = {
    "empty string": "",
    "number as text": "538",
    "number with unit": "538 MB",
    "percent text": "35%",
    "long text": "가" * 5000,
    "negative int": -1,
    "zero": 0,
    "huge int": 10**30,
    "float": 2.5,
    "nan": float("nan"),
    "inf": math.inf,
    "bool": True,
    "empty list": [],
    "list of one": [1],
    "list of text": ["a", "b"],
    "nested list": [[1, 2], [3]],
    "tuple": (1, 2, 3),
    "dict": {"a": 1},
    "set": {1, 2},
    "tensor of one": torch.tensor([1.0]),
    "matrix": torch.ones(2, 2),
    "empty tensor": torch.empty(0),
    "int tensor": torch.tensor([[1, 2, 3]]),
    "batch encoding": BatchEncoding({"input_ids": torch.tensor([[1, 2, 3]]), "attention_mask": torch.ones(1, 3)}),
    "numpy float": np.float64(1.5),
    "numpy array": np.arange(4),
    "object": object(),
    "function returning None": lambda *a, **k: None,
    "function that raises": _raises,
    "type": int,
    "bytes": b"abc",
}


@pytest.fixture(scope="module")
def world(chat_model, chat_tokenizer):
    """Everything the checks take besides the answer, built once and small."""
    from sentence_transformers import SentenceTransformer

    eager = models.load_model(attn_implementation="eager")
    encoded = chat_tokenizer("The cat sat on the mat.", return_tensors="pt")
    with torch.no_grad():
        out = eager(**encoded, output_attentions=True)
    reviews = prompting.load_reviews()
    shots = [r for r in reviews if r.split == "shot"]
    test = [r for r in reviews if r.split == "test"][::12]  # 4 reviews keep the prompting checks quick
    output_ids = chat_model.generate(**encoded, max_new_tokens=3, do_sample=False)
    return {
        "model": chat_model, "tokenizer": chat_tokenizer, "eager": eager,
        "attentions": torch.stack(out.attentions)[:, 0], "shots": shots, "test": test,
        "encoder": SentenceTransformer(models.model_path("all-minilm-l6-v2"), device="cpu"),
        "output_ids": output_ids, "input_length": encoded["input_ids"].shape[1],
        "logits": torch.randn(chat_model.config.vocab_size),
        "inputs": encoded.to(chat_model.device),
    }


# How to call each check, apart from the answer. New lessons add their checks here.
CHECK_ARGUMENTS = {
    "setup_parameter_count": lambda w: dict(model=w["model"]),
    "setup_new_tokens": lambda w: dict(prompt="Once upon a time", model=w["model"], tokenizer=w["tokenizer"], limit=8),
    "setup_model_memory": lambda w: dict(model=w["model"]),
    "tokenization_paragraph_cost": lambda w: dict(tokenizer=w["tokenizer"], ko_text="안녕하세요.", en_text="Hello."),
    "tokenization_utf8_bytes": lambda w: dict(text="한국어 문장", tokenizer=w["tokenizer"]),
    "tokenization_beat_cl100k": lambda w: dict(korean_sentences=["한국어 문장입니다."], reference_count=10),
    "embeddings_token_similarity": lambda w: dict(tokenizer=w["tokenizer"], model=w["model"]),
    "embeddings_semantic_search": lambda w: dict(query="a cat", sentences=["a dog", "a cat", "the sea", "rain"],
                                                 encoder=w["encoder"], k=3),
    "attention_kv_head": lambda w: dict(model=w["model"], head=7),
    "attention_previous_token_head": lambda w: dict(attentions=w["attentions"]),
    "attention_head_by_hand": lambda w: dict(model=w["eager"], tokenizer=w["tokenizer"], text="The cat sat.",
                                             layer=20, head=8),
    "generation_new_text": lambda w: dict(output_ids=w["output_ids"], input_length=w["input_length"],
                                          tokenizer=w["tokenizer"]),
    "generation_top_p_count": lambda w: dict(logits=w["logits"], top_p=0.9),
    "generation_batched_left_padding": lambda w: dict(prompts=["1, 2, 3", "A, B"], model=w["model"],
                                                      tokenizer=w["tokenizer"], max_new_tokens=2),
    "prompting_token_count": lambda w: dict(prompt="Review: fine.", tokenizer=w["tokenizer"], context_window=8192),
    "prompting_negative_shots": lambda w: dict(model=w["model"], tokenizer=w["tokenizer"], shots=w["shots"],
                                               test=w["test"]),
    "prompting_label_words": lambda w: dict(model=w["model"], tokenizer=w["tokenizer"], shots=w["shots"],
                                            test=w["test"]),
    "chat_prompt_ids": lambda w: dict(tokenizer=w["tokenizer"], messages=[{"role": "user", "content": "Hi"}]),
    "chat_next_messages": lambda w: dict(history=[{"role": "user", "content": "Hi"}], reply="Hello.",
                                         question="How are you?"),
    "chat_template_no_default_system": lambda w: dict(tokenizer=w["tokenizer"]),
    "transformer_mlp_params": lambda w: dict(model=w["model"]),
    "transformer_mlp_by_hand": lambda w: dict(model=w["model"], inputs=w["inputs"], layer=20),
    "transformer_settled_layer": lambda w: dict(model=w["model"], tokenizer=w["tokenizer"],
                                                prompt="The capital of France is"),
    "quantization_model_weights": lambda w: dict(config=w["model"].config, dtype="bfloat16"),
    "quantization_kv_cache": lambda w: dict(config=w["model"].config, seq_len=8192, dtype="bfloat16"),
    "quantization_tokens_per_second": lambda w: dict(bandwidth_gb_s=300, n_params=8e9, dtype="int8"),
    "quantization_absmax_by_hand": lambda w: dict(values=torch.tensor([0.5, -1.25, 2.0, -0.1])),
    "finetune_group_texts": lambda w: dict(examples={"input_ids": [[11, 12, 13], [21, 22, 23, 24, 25]]},
                                           block_size=4),
    "finetune_perplexity_from_loss": lambda w: dict(loss=1.75),
    "finetune_lora_count": lambda w: dict(model=w["model"], r=8, target_modules=["q_proj", "v_proj"]),
    "finetune_completion_labels": lambda w: dict(full_ids=[1, 2, 3, 4, 5, 6], prompt_ids=[1, 2, 3]),
    "finetune_training_memory": lambda w: dict(n_params=361_821_120),
}


def test_every_check_is_marked_and_has_arguments_here():
    assert ALL_CHECKS, "no self-checks found"
    lesson_functions = [n for n, f in vars(checks).items() if callable(f) and not n.startswith("_")
                        and n.split("_")[0] in {"setup", "tokenization", "embeddings", "attention", "transformer",
                                                "generation", "prompting", "chat", "quantization",
                                                "finetune", "finetuning"}]
    unmarked = sorted(set(lesson_functions) - set(ALL_CHECKS))
    assert unmarked == [], f"checks without @self_check: {unmarked}"
    missing = sorted(set(ALL_CHECKS) - set(CHECK_ARGUMENTS))
    assert missing == [], f"add these checks to CHECK_ARGUMENTS: {missing}"


@pytest.mark.parametrize("name", sorted(CHECK_ARGUMENTS))
def test_no_junk_answer_makes_a_check_raise(world, name, capsys):
    check = getattr(checks, name)
    kwargs = CHECK_ARGUMENTS[name](world)
    blank = check(None, **kwargs)
    assert isinstance(blank, CheckResult) and not blank and checks.TODO in blank.message
    for label, junk in JUNK.items():
        result = check(junk, **kwargs)  # must not raise
        assert isinstance(result, CheckResult), (name, label)
        assert not result, f"{name} accepted junk ({label}): {result.message}"
        assert result.message.count("\n") >= 1, "a verdict speaks Korean, then English"
    printed = capsys.readouterr().out
    assert "Traceback" not in printed


@pytest.mark.parametrize("answer, hint", [
    ("538", "문자열이 아니라 숫자"),
    (True, "참/거짓"),
    (torch.tensor([3.0]), ".item()"),
    ([1, 2], "숫자 하나"),
    (float("nan"), "유한한"),
])
def test_as_number_explains_what_is_wrong(answer, hint):
    with pytest.raises(AnswerProblem) as problem:
        checks.as_number(answer)
    assert hint in problem.value.ko and problem.value.en


def test_converters_accept_what_a_right_answer_looks_like():
    assert checks.as_number(torch.tensor(2.5)) == 2.5
    assert checks.as_number(np.float32(0.5)) == 0.5
    assert checks.as_integer(2.0) == 2  # 7 // (9 / 3) gives 2.0: right, not wrong
    assert checks.as_integer(torch.tensor(4)) == 4
    assert checks.as_int_list(torch.tensor([[1, 2, 3]])) == [1, 2, 3]
    assert checks.as_int_list((3, 4), length=2) == [3, 4]
    assert checks.as_fraction(0.35) == 0.35
    assert checks.as_tensor([[0.5, 0.5]], shape=(1, 2)).shape == (1, 2)


def test_a_float_index_and_a_percentage_get_hints():
    with pytest.raises(AnswerProblem, match="whole number"):
        checks.as_integer(4.5)
    with pytest.raises(AnswerProblem) as problem:
        checks.as_fraction(35)
    assert "백분율" in problem.value.ko and "0.35" in problem.value.en
    with pytest.raises(AnswerProblem, match="input_ids"):
        checks.as_int_list(BatchEncoding({"input_ids": [1, 2]}))
    with pytest.raises(AnswerProblem, match="list is needed"):
        checks.as_int_list(7)


def test_korean_particles_follow_the_number(chat_model, chat_tokenizer):
    assert "17은 정답이 아닙니다" in checks.setup_parameter_count(17, chat_model).message
    assert "40은 정답이 아닙니다" in checks.setup_parameter_count(40, chat_model).message
    assert "457은 정답이 아닙니다" in checks.setup_parameter_count(457, chat_model).message
    assert "2는 정답이 아닙니다" in checks.setup_parameter_count(2, chat_model).message
    assert "이(가)" not in checks.setup_new_tokens(3, "Once", chat_model, chat_tokenizer, limit=8).message


def test_messages_read_naturally():
    with pytest.raises(AnswerProblem) as problem:
        checks.as_number("538 MB", unit="MB")
    assert "단위(MB)는 빼고 숫자로 넣으세요" in problem.value.ko and "without the unit (MB)" in problem.value.en
    for answer, article in [([1], "a list"), (object(), "an object"), (None, "None")]:
        with pytest.raises(AnswerProblem) as problem:
            checks.as_number(answer)
        assert f"got {article}" in problem.value.en
    with pytest.raises(AnswerProblem) as problem:
        checks.as_int_list(7)
    assert "got an int" in problem.value.en and "a int" not in problem.value.en


def test_every_memory_exercise_gives_the_same_gib_hint(chat_model):
    n_bytes = sum(p.numel() * p.element_size() for p in chat_model.parameters())
    in_mib = checks.setup_model_memory(n_bytes / 2**20, chat_model)
    in_gib = checks.finetune_training_memory(16 * 361_821_120 / 2**30, 361_821_120)
    for result, unit, wanted in [(in_mib, "MiB", "MB"), (in_gib, "GiB", "GB")]:
        assert not result and f"{unit}(" in result.message and f"1 {wanted}는" in result.message
    in_bytes = checks.setup_model_memory(n_bytes, chat_model)
    assert not in_bytes and "바이트 수입니다" in in_bytes.message and "in bytes" in in_bytes.message


# --------------------------------------------------------------------------
# Blaming the right party
# --------------------------------------------------------------------------

# Arguments that hold the learner's own input besides the answer: junk there gets a verdict, not an error.
LEARNER_ARGUMENTS = {("tokenization_paragraph_cost", "ko_text"), ("tokenization_paragraph_cost", "en_text"),
                     ("transformer_settled_layer", "prompt")}


class _NotAnything:
    """A reference argument that is nothing a check could want."""

    def __repr__(self):
        return "<junk>"


@pytest.mark.parametrize("name", sorted(CHECK_ARGUMENTS))
def test_junk_in_a_reference_argument_raises_an_error_that_names_it(world, name, capsys):
    check = getattr(checks, name)
    kwargs = CHECK_ARGUMENTS[name](world)
    for argument in kwargs:
        broken = {**kwargs, argument: _NotAnything()}
        if (name, argument) in LEARNER_ARGUMENTS:
            assert not check(None if name == "transformer_settled_layer" else {"ko": 1, "en": 1}, **broken)
            continue
        with pytest.raises(CheckArgumentError) as err:
            check(None, **broken)  # even with the exercise still blank: the notebook's bug shows at once
        assert err.value.argument.split(".")[0].split("[")[0] == argument, (name, argument, str(err.value))
        message = str(err.value)
        assert message.startswith(f"checks.{name}: ") and f"`{err.value.argument}`" in message
        ko, en = message.split("\n")
        assert "인자" in ko and "not about the answer" in en
    capsys.readouterr()


@pytest.mark.parametrize("name, argument, value", [
    ("quantization_kv_cache", "seq_len", 8192.0),
    ("finetune_group_texts", "block_size", 4.0),
    ("setup_new_tokens", "limit", 8.0),
    ("setup_new_tokens", "tokenizer", "smollm2-135m-instruct"),
    ("attention_kv_head", "head", 99),
    ("generation_top_p_count", "top_p", 1.5),
    ("finetune_lora_count", "target_modules", ["no_such_layer"]),
])
def test_a_near_miss_reference_argument_is_not_blamed_on_the_answer(world, name, argument, value):
    kwargs = {**CHECK_ARGUMENTS[name](world), argument: value}
    with pytest.raises(CheckArgumentError, match=argument):
        getattr(checks, name)(1, **kwargs)
    with pytest.raises((TypeError, ValueError)):  # either except clause catches it
        getattr(checks, name)(1, **kwargs)


def test_a_tokenizer_that_is_not_one_is_named(world):
    with pytest.raises(CheckArgumentError) as err:
        checks.tokenization_utf8_bytes(16, "한국어 문장", world["model"])
    assert err.value.argument == "tokenizer" and "transformers 토크나이저" in str(err.value)


def test_an_error_inside_a_check_is_not_swallowed(world, monkeypatch):
    from llm_course import memory, tokens

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in the check's own computation")

    monkeypatch.setattr(memory, "kv_cache_bytes", broken)
    with pytest.raises(ZeroDivisionError, match="own computation"):
        checks.quantization_kv_cache(1.07, memory.llama3_8b_config(), seq_len=8192)
    monkeypatch.setattr(tokens, "count_tokens", broken)
    with pytest.raises(ZeroDivisionError):
        checks.tokenization_utf8_bytes(16, "한국어 문장", world["tokenizer"])


def test_self_check_turns_only_answer_problems_into_verdicts(capsys):
    @checks.self_check
    def answer_problem(answer):
        raise AnswerProblem("답이 이상합니다.", "The answer is odd.")

    @checks.self_check
    def buggy(answer):
        return {}["missing"]

    result = answer_problem(1)
    assert isinstance(result, CheckResult) and not result and "답이 이상합니다." in result.message
    with pytest.raises(KeyError):
        buggy(1)
    assert "❌" in capsys.readouterr().out
