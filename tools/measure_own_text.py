"""Measure how LoRA on your own Korean text responds to data size, steps, learning rate and block size.

The figures behind the guidance table of notebook 09's section "내 글로 학습하기 /
Training on your own text". Every run is the notebook's recipe (Gemma 3 270M,
LoRA r=16 on all linear layers, blocks that start with <bos>, batch 1 with
gradient accumulation, AdamW, linear decay) with one setting changed, so anyone
can re-run it and compare with their own machine:

    OMP_NUM_THREADS=2 LLM_COURSE_DEVICE=cpu python tools/measure_own_text.py            # every run
    python tools/measure_own_text.py --runs size,lr                                     # some of them

Data: the Korean Constitution that notebook 09 trains on (``finetune.load_corpus("kolaw")``).
Its last 10 % of lines are held out (evaluated as 128-token <bos> blocks whatever the
training block size, so every run is scored on the same tokens); training takes the
first 2 KB, 20 KB, or all of the other 90 % (UTF-8 bytes). A last run repeats the
notebook's own setting on the course's sample text (assets/own_text_sample_ko.txt).
Each run prints one line of a Markdown table: held-out perplexity before and after,
seconds per optimizer step, peak memory (the process's RSS) and the greedy
continuation of a prompt.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import tempfile
import time

EVAL_BLOCK = 128
PROMPT = {"kolaw": "대통령은", "sample": "8월 3일, 맑음."}


def blocks_of(lines, tokenizer, block_size):
    from datasets import Dataset

    from llm_course import finetune

    data = Dataset.from_dict({"text": lines})
    tokens = data.map(lambda b: tokenizer(b["text"], add_special_tokens=False), batched=True, remove_columns=["text"])
    return tokens.map(finetune.group_texts_with_bos, batched=True, remove_columns=tokens.column_names,
                      fn_kwargs={"block_size": block_size, "bos_token_id": tokenizer.bos_token_id})


def first_bytes(lines, n_bytes):
    """Whole lines from the start until ``n_bytes`` of UTF-8 (None: all)."""
    if n_bytes is None:
        return list(lines)
    kept, size = [], 0
    for line in lines:
        if size >= n_bytes:
            break
        kept.append(line)
        size += len(line.encode("utf-8"))
    return kept


def run(name, *, data="kolaw", kb=20, steps=20, lr=1e-3, block=64, tokens_per_step=256, seed=0):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments, set_seed

    from llm_course import device, finetune, models, own_text

    tokenizer = models.load_tokenizer("gemma3-270m")
    if data == "kolaw":
        lines = finetune.corpus_lines("kolaw")
        cut = int(len(lines) * 0.9)
        train_lines = first_bytes(lines[:cut], None if kb is None else kb * 1000)
        train = blocks_of(train_lines, tokenizer, block)
        held_out = blocks_of(lines[cut:], tokenizer, EVAL_BLOCK)
        n_bytes = sum(len(line.encode("utf-8")) for line in train_lines)
    else:  # the notebook's own setting: the sample text, 20 % of its blocks held out
        text = own_text.read_text(own_text.sample_path())
        splits = blocks_of(text.splitlines(keepends=True), tokenizer, block).train_test_split(test_size=0.2, seed=0)
        train, held_out = splits["train"], splits["test"]
        n_bytes = len(text.encode("utf-8"))
    accumulate = max(1, tokens_per_step // block)
    set_seed(seed)
    model = models.load_model("gemma3-270m")
    before = finetune.perplexity(model, held_out, batch_size=1).perplexity
    lora = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                                            task_type="CAUSAL_LM"))
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, max_steps=steps, per_device_train_batch_size=1,
                                 gradient_accumulation_steps=accumulate, learning_rate=lr, lr_scheduler_type="linear",
                                 weight_decay=0.0, logging_steps=steps, save_strategy="no", report_to="none", seed=seed,
                                 data_seed=seed, use_cpu=True, disable_tqdm=True)
        trainer = Trainer(model=lora, args=args, train_dataset=train,
                          data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False))
        device.release_memory("cpu")
        start = time.perf_counter()
        with device.PeakMemory("cpu") as memory:
            trainer.train()
        seconds = time.perf_counter() - start
    after = finetune.perplexity(lora, held_out, batch_size=1).perplexity
    prompt = PROMPT[data]
    inputs = tokenizer(prompt, return_tensors="pt").to(lora.device)
    with torch.no_grad():
        output = lora.generate(**inputs, max_new_tokens=24, do_sample=False)
    continuation = tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    epochs = steps * accumulate / len(train)
    row = (f"| {name} | {n_bytes / 1000:.1f} KB, {len(train)} blocks | {block} × {accumulate} | {steps} "
           f"({epochs:.1f} epochs) | {lr:g} | {before:.2f} → {after:.2f} | {seconds / steps:.1f} | "
           f"{memory.peak / 1e9:.2f} | `{prompt}` → {continuation!r} |")
    print(row, flush=True)
    del trainer, lora, model
    gc.collect()
    return row


RUNS = {
    "size": [("2 KB", dict(kb=2)), ("20 KB", dict(kb=20)), ("all (41 KB)", dict(kb=None))],
    "steps": [("5 steps", dict(steps=5)), ("10 steps", dict(steps=10))],
    "lr": [("lr 1e-4", dict(lr=1e-4)), ("lr 3e-3", dict(lr=3e-3))],
    "block": [("block 32", dict(block=32)), ("block 128", dict(block=128)), ("block 256", dict(block=256))],
    "notebook": [("notebook (sample)", dict(data="sample", steps=8, block=64))],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated groups of {list(RUNS)}")
    chosen = parser.parse_args().runs.split(",")
    import datasets
    import torch
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    print(f"{datetime.date.today()}, torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{torch.get_num_threads()} threads; defaults: Constitution first 20 KB, 20 steps, lr 1e-3, "
          f"block 64, 256 tokens per step; held-out: last 10 % of the Constitution in {EVAL_BLOCK}-token blocks")
    print("| run | training text | block × accumulation | steps | lr | held-out perplexity | s/step | peak GB | "
          "greedy |")
    print("|---|---|---|---|---|---|---|---|---|")
    for group in chosen:
        for name, settings in RUNS[group.strip()]:
            run(name, **settings)


if __name__ == "__main__":
    main()
