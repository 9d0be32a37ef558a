"""The device audit (llm_course_dev.device_audit) finds inputs that do not follow the model's device.

The test machine has only a CPU, where a forgotten ``.to(model.device)`` costs
nothing; on Colab's GPU it is a crash. These tests show that the audit, which
runs over every unit test and every notebook kernel (the pytest plugin
``llm_course_dev.pytest_plugin``, loaded by conftest.py), catches the mistake in
lesson code and in the course package, lets correct code through, and changes
no result.
"""

import os
from pathlib import Path

import pytest
import torch
from transformers import pipeline

from llm_course import models
from llm_course_dev import device_audit as devicecheck

CELL = "/tmp/ipykernel_4242/1234567.py"  # how ipykernel names a notebook cell's code
HELPER = os.path.join(os.path.dirname(models.__file__), "some_helper.py")  # a file of the course package


def run_as(filename, source, **namespace):
    """Run ``source`` as if it were written in ``filename`` (a notebook cell or a course module)."""
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def test_the_audit_is_on_during_the_unit_tests():
    assert devicecheck._state.saved, "llm_course_dev.pytest_plugin should switch the audit on"


@pytest.mark.parametrize("where", [CELL, HELPER], ids=["notebook cell", "course module"])
def test_cpu_inputs_to_a_model_are_caught(chat_model, chat_tokenizer, where):
    with pytest.raises(devicecheck.DeviceMismatch, match="input_ids"):  # a tensor moved back with .cpu()
        run_as(where, "ids = tokenizer('Hi', return_tensors='pt').to(model.device)\nmodel(input_ids=ids['input_ids'].cpu())",
               model=chat_model, tokenizer=chat_tokenizer)
    with pytest.raises(devicecheck.DeviceMismatch, match="input_ids") as err:
        run_as(where, "model(**tokenizer('Hello', return_tensors='pt'))", model=chat_model, tokenizer=chat_tokenizer)
    assert "to(model.device)" in str(err.value) and "장치" in str(err.value)
    with pytest.raises(devicecheck.DeviceMismatch, match="generate"):
        run_as(where, "model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=1)", model=chat_model, torch=torch)
    with pytest.raises(devicecheck.DeviceMismatch, match="Embedding"):  # a layer of the model, called alone
        run_as(where, "model.model.embed_tokens(torch.tensor([[1, 2]]))", model=chat_model, torch=torch)


def test_inputs_moved_or_made_on_the_model_device_pass(chat_model, chat_tokenizer):
    ns = run_as(CELL, """
inputs = tokenizer('The capital of France is', return_tensors='pt').to(model.device)
with torch.no_grad():
    out = model(**inputs, output_hidden_states=True)
    ids = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    more = model(input_ids=torch.cat([ids, out.logits[:, -1:].argmax(-1)], dim=1))  # built from outputs
    made = model(input_ids=torch.tensor([[1, 2, 3]], device=model.device))
    normed = model.model.norm(out.hidden_states[-1])  # a layer fed the model's own hidden states
""", model=chat_model, tokenizer=chat_tokenizer, torch=torch)
    assert ns["ids"].shape == (1, ns["inputs"]["input_ids"].shape[1] + 3)
    assert type(ns["inputs"]["input_ids"]) is torch.Tensor  # .to(model.device) took the mark off
    assert ns["made"].logits.shape[1] == 3


def test_tensors_caught_by_a_hook_inside_the_model_count_as_on_its_device(chat_model, chat_tokenizer):
    ns = run_as(CELL, """
caught = []
handle = model.model.layers[2].register_forward_hook(lambda module, args, output: caught.append(output[0]))
with torch.no_grad():
    model(**tokenizer('Hello there', return_tensors='pt').to(model.device))
handle.remove()
normed = model.model.layers[3].input_layernorm(caught[0])  # fine: it was computed on the model's device
""", model=chat_model, tokenizer=chat_tokenizer, torch=torch)
    assert ns["normed"].shape[-1] == chat_model.config.hidden_size


def test_libraries_place_their_own_tensors(chat_model, chat_tokenizer):
    generator = pipeline("text-generation", model=chat_model, tokenizer=chat_tokenizer)
    text = run_as(CELL, "out = generator('Hello', max_new_tokens=3, do_sample=False)", generator=generator)["out"]
    assert text[0]["generated_text"].startswith("Hello")


def test_a_model_a_lesson_pins_to_the_cpu_is_left_out():
    pinned = models.load_model(device="cpu")  # on the CPU on every machine: CPU inputs are right for it
    run_as(CELL, "pinned(input_ids=torch.tensor([[1, 2, 3]]))", pinned=pinned, torch=torch)


def test_the_audit_changes_no_result(chat_model, chat_tokenizer):
    inputs = chat_tokenizer("The cat sat on the mat", return_tensors="pt").to(chat_model.device)
    with torch.no_grad():
        audited = chat_model(**inputs).logits
    devicecheck.stop_audit()
    try:
        plain_inputs = chat_tokenizer("The cat sat on the mat", return_tensors="pt")
        with torch.no_grad():
            plain = chat_model(**plain_inputs).logits
        assert type(plain) is torch.Tensor
    finally:
        devicecheck.start_audit()
    assert torch.equal(audited, plain)
    assert repr(inputs["input_ids"]) == repr(plain_inputs["input_ids"])  # marked tensors print the same
    assert f"{audited[0, 0, 0]:.3f}" == f"{plain[0, 0, 0]:.3f}"


def test_models_loaded_under_the_audit_are_intact():
    # Replacing torch.tensor by a wrapper once left RoPE's buffers uninitialised; the audit
    # uses a torch function mode instead. Eager attention is the loading path that broke.
    model = models.load_model(device="cpu", attn_implementation="eager")
    inv_freq = model.model.rotary_emb.inv_freq
    head_dim = model.config.head_dim
    theta = model.config.rope_parameters["rope_theta"]
    expected = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)
    assert torch.allclose(inv_freq, expected)


def test_notebook_kernels_start_with_the_audit_on():
    """The plugin's IPython start-up file (in the IPYTHONDIR kernels inherit) switches the audit on
    before a notebook's first cell, and the learner's package has no part in it."""
    from jupyter_client.manager import start_new_kernel

    assert os.environ.get("IPYTHONDIR"), "llm_course_dev.pytest_plugin should set IPYTHONDIR for kernels"
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        code = ("import sys\n"
                "from llm_course_dev import device_audit\n"
                "print(bool(device_audit._state.saved), 'llm_course.hints' in sys.modules)")
        lines = []
        client.execute_interactive(code, timeout=120, output_hook=lambda m: lines.append(m["content"].get("text", "")))
        assert "".join(lines).split()[0] == "True"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_the_learner_package_never_imports_the_dev_tools():
    import ast

    package = Path(models.__file__).resolve().parent.parent
    imported = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update((path.name, a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add((path.name, node.module))
    assert imported, "the scan found no import at all"
    assert [(f, m) for f, m in imported if m.split(".")[0] == "llm_course_dev"] == []
