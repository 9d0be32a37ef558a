"""Do inputs follow the model's device? An audit for the course's own tests.

Learners on Colab usually have a GPU: a model there lives on ``cuda``, and a
tensor built on the CPU and passed to it raises a device-mismatch error. The
transformers documentation teaches the cure, ``inputs.to(model.device)``, and
every lesson uses it. But the test machine has only a CPU, where a forgotten
``.to(model.device)`` costs nothing, so a plain test run can never see the bug.

This audit makes it visible on a CPU. While it is on, a tensor that lesson
code (a notebook cell or the course package) builds on the CPU is marked: a tokenizer's ``return_tensors="pt"``
output, ``torch.tensor``, ``torch.arange`` and the other factories called
without ``device=``, and anything moved back with ``.cpu()``. Results computed
from a marked tensor stay marked, and ``.to(device)`` removes the mark. When a
notebook cell or the course package then calls a transformers model, one of its
layers, or ``generate`` with a marked tensor, the audit raises
:class:`DeviceMismatch`, naming the argument, exactly where a GPU would fail.
Tensors that the libraries make themselves (a pipeline's inputs, a model's
masks, what a hook catches inside a model) are theirs to place and are never marked.
A model that a lesson deliberately loads on the CPU (``models.load_model(device="cpu")``,
to compare values exactly) is on the CPU on every machine and is not audited.

It is test instrumentation and lives outside the learner's package: the pytest
plugin :mod:`llm_course_dev.pytest_plugin` switches it on for every unit test
and, through an IPython start-up file, in every notebook kernel nbval starts
(``LLM_COURSE_DEVICE_AUDIT=0`` leaves the kernels alone). While it is on,
``models.load_model`` is wrapped so that a model loaded with ``device="cpu"``
is pinned (left out). Learners never see it.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import sys
import weakref

import torch
from torch.overrides import TorchFunctionMode


_FACTORIES = ("tensor", "as_tensor", "asarray", "from_numpy", "scalar_tensor", "ones", "zeros", "full", "empty",
              "arange", "rand", "randn", "randint", "randperm", "linspace", "logspace", "eye", "tril_indices",
              "triu_indices")
_LIBRARY_PARTS = ("site-packages", "dist-packages", f"{os.sep}lib{os.sep}python")


class DeviceMismatch(RuntimeError):
    """A model was called with a tensor that was built on the CPU and never moved to the model's device."""


class BuiltOnCPU(torch.Tensor):
    """A tensor that user code built on the CPU (the audit's mark).

    Results of operations on it keep the mark (torch propagates subclasses);
    ``.to(device)`` drops it. It prints exactly like a plain tensor, so
    outputs do not change.
    """

    def __repr__(self, *, tensor_contents=None):
        return torch.Tensor.__repr__(self.as_subclass(torch.Tensor), tensor_contents=tensor_contents)

    __str__ = __repr__

    def __format__(self, format_spec):
        return self.as_subclass(torch.Tensor).__format__(format_spec)

    def __reduce_ex__(self, proto):
        return self.as_subclass(torch.Tensor).__reduce_ex__(proto)

    def __deepcopy__(self, memo):
        return copy.deepcopy(self.as_subclass(torch.Tensor), memo).as_subclass(BuiltOnCPU)


class _State:
    def __init__(self):
        self.depth = 0  # > 0 inside an audited call: the libraries' own work is not looked at
        self.saved: dict = {}


_state = _State()
_pinned: "weakref.WeakSet[torch.nn.Module]" = weakref.WeakSet()


def pinned_to_cpu(model) -> None:
    """Leave ``model`` out of the audit: a lesson put it on the CPU on purpose, on every machine."""
    for module in model.modules():
        _pinned.add(module)


def _caller(frames_up: int) -> str:
    return sys._getframe(frames_up + 1).f_code.co_filename


def _is_lesson_code(filename: str) -> bool:
    """A notebook cell or the course package: the code whose tensors are marked and whose model calls are checked.

    Tests build CPU tensors on purpose (the test machine has only a CPU) and
    are neither marked nor checked; what the course package builds itself is.
    """
    if f"{os.sep}llm_course{os.sep}" in filename:
        return True
    return "ipykernel_" in filename or filename.startswith("<ipython-input")


def _mark(value):
    if type(value) is torch.Tensor:
        return value.as_subclass(BuiltOnCPU)
    return value


def _unmark(value):
    if isinstance(value, BuiltOnCPU):
        return value.as_subclass(torch.Tensor)
    return value


def _names_a_device(args, kwargs) -> bool:
    if kwargs.get("device") is not None:
        return True
    return any(isinstance(a, (str, torch.device, torch.Tensor)) or (type(a) is int) for a in args)


def _walk(value, fn, depth: int = 0):
    """Apply ``fn`` to the tensors in ``value`` (tensors, tuples, lists, dicts, a BatchEncoding), in place for dicts."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if depth > 3:
        return value
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_walk(v, fn, depth + 1) for v in value)
    if isinstance(value, list):
        return [_walk(v, fn, depth + 1) for v in value]
    if isinstance(value, dict) or type(value).__name__ == "BatchEncoding":
        for k, v in list(value.items()):
            new = _walk(v, fn, depth + 1)
            if new is not v:
                value[k] = new
        return value
    return value


def _check_inputs(module, args, kwargs, what: str) -> None:
    offenders = []

    def look(name):
        def fn(t):
            if isinstance(t, BuiltOnCPU) and t.ndim > 0:
                offenders.append(name)
            return t
        return fn

    for i, a in enumerate(args):
        _walk(a, look(f"argument {i}"))
    for k, v in kwargs.items():
        _walk(v, look(k))
    if offenders:
        name = f"{type(module).__name__}{what}"
        shown = ", ".join(sorted(set(offenders)))
        raise DeviceMismatch(
            f"{name} was called with {shown} built on the CPU and never moved to the model's device. On a GPU "
            f"(Colab) this raises a device-mismatch error. Move it where it is made: "
            f"`tokenizer(..., return_tensors=\"pt\").to(model.device)`, `tensor.to(model.device)` or "
            f"`torch.arange(n, device=model.device)`.\n"
            f"{name}에 모델의 장치로 옮기지 않은 텐서({shown})가 들어왔습니다. GPU(Colab)에서는 장치 불일치 "
            f"오류가 납니다. 텐서를 만든 곳에서 `.to(model.device)`로 옮기거나 `device=model.device`로 만드세요.")


@contextlib.contextmanager
def device_audit():
    """Audit every transformers model call inside the block (see the module docstring)."""
    start_audit()
    try:
        yield
    finally:
        stop_audit()


def start_audit() -> None:
    """Switch the audit on for this process (idempotent)."""
    if _state.saved:
        return
    from transformers import BatchEncoding, GenerationMixin, PreTrainedModel, PreTrainedTokenizerBase

    saved = _state.saved
    saved["Tensor.to"] = orig_to = torch.Tensor.to
    saved["Tensor.cpu"] = orig_cpu = torch.Tensor.cpu
    saved["BatchEncoding.to"] = orig_batch_to = BatchEncoding.to
    saved["Tokenizer.__call__"] = orig_tokenize = PreTrainedTokenizerBase.__call__
    saved["Tokenizer.apply_chat_template"] = orig_template = PreTrainedTokenizerBase.apply_chat_template
    saved["Module.__call__"] = module_call = torch.nn.Module.__call__
    saved["GenerationMixin.generate"] = orig_generate = GenerationMixin.generate
    saved["PreTrainedModel.post_init"] = orig_post_init = PreTrainedModel.post_init
    # Every module of every transformers model made while the audit is on: calling one of
    # them (a whole model, or one of its layers, as notebooks 03 and 04 do) is audited.
    model_modules: "weakref.WeakSet[torch.nn.Module]" = weakref.WeakSet()

    def post_init(self, *args, **kwargs):
        out = orig_post_init(self, *args, **kwargs)
        for module in self.modules():
            model_modules.add(module)
        return out

    def to(self, *args, **kwargs):
        out = orig_to(self, *args, **kwargs)
        if isinstance(out, BuiltOnCPU) and _names_a_device(args, kwargs):
            return out.as_subclass(torch.Tensor)  # moved where it was asked to go
        return out

    def cpu(self, *args, **kwargs):
        out = orig_cpu(self, *args, **kwargs)
        if _state.depth == 0 and _is_lesson_code(_caller(1)):
            return _mark(out)
        return out

    def batch_to(self, *args, **kwargs):
        out = orig_batch_to(self, *args, **kwargs)
        _walk(out, _unmark)
        return out

    def tokenize(self, *args, **kwargs):
        out = orig_tokenize(self, *args, **kwargs)
        if _state.depth == 0 and _is_lesson_code(_caller(1)):
            out = _walk(out, _mark)
        return out

    def template(self, *args, **kwargs):
        out = orig_template(self, *args, **kwargs)
        if _state.depth == 0 and _is_lesson_code(_caller(1)):
            out = _walk(out, _mark)
        return out

    def audited(run, what, only_models: bool):
        def call(self, *args, **kwargs):
            if _state.depth > 0 or (only_models and self not in model_modules):
                return run(self, *args, **kwargs)
            if self not in _pinned and _is_lesson_code(_caller(1)):
                _check_inputs(self, args, kwargs, what)
            args = tuple(_walk(a, _unmark) for a in args)  # the model itself computes on plain tensors
            kwargs = {k: _walk(v, _unmark) for k, v in kwargs.items()}
            _state.depth += 1
            try:
                return run(self, *args, **kwargs)
            finally:
                _state.depth -= 1
        return call

    factories = {getattr(torch, name) for name in _FACTORIES}

    class MarkFactories(TorchFunctionMode):
        """Marks tensors that user code creates without ``device=``, on the CPU.

        A function mode, not a replacement of ``torch.tensor`` and friends: torch's
        own device contexts recognise its factories by identity.
        """

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if (_state.depth == 0 and func in factories and kwargs.get("device") is None
                    and _is_lesson_code(_caller(1))):
                return _mark(out)
            return out

    torch.Tensor.to = to
    torch.Tensor.cpu = cpu
    BatchEncoding.to = batch_to
    PreTrainedTokenizerBase.__call__ = tokenize
    PreTrainedTokenizerBase.apply_chat_template = template
    PreTrainedModel.post_init = post_init
    torch.nn.Module.__call__ = audited(module_call, "", only_models=True)
    GenerationMixin.generate = audited(orig_generate, ".generate", only_models=False)

    # A lesson that loads a model with device="cpu" wants it on the CPU on every machine: pin it.
    from llm_course import models
    from llm_course.models import load as models_load

    saved["load_model"] = orig_load = models_load.load_model

    def load_model(*args, **kwargs):
        model = orig_load(*args, **kwargs)
        if kwargs.get("device") == "cpu":
            pinned_to_cpu(model)
        return model

    models.load_model = models_load.load_model = functools.wraps(orig_load)(load_model)
    mode = MarkFactories()
    mode.__enter__()
    saved["mode"] = mode


def stop_audit() -> None:
    """Switch the audit off and restore torch and transformers as they were."""
    if not _state.saved:
        return
    from transformers import BatchEncoding, GenerationMixin, PreTrainedModel, PreTrainedTokenizerBase

    saved = _state.saved
    torch.Tensor.to = saved.pop("Tensor.to")
    torch.Tensor.cpu = saved.pop("Tensor.cpu")
    BatchEncoding.to = saved.pop("BatchEncoding.to")
    PreTrainedTokenizerBase.__call__ = saved.pop("Tokenizer.__call__")
    PreTrainedTokenizerBase.apply_chat_template = saved.pop("Tokenizer.apply_chat_template")
    torch.nn.Module.__call__ = saved.pop("Module.__call__")
    GenerationMixin.generate = saved.pop("GenerationMixin.generate")
    PreTrainedModel.post_init = saved.pop("PreTrainedModel.post_init")
    from llm_course import models
    from llm_course.models import load as models_load

    models.load_model = models_load.load_model = saved.pop("load_model")
    saved.pop("mode").__exit__(None, None, None)
    _state.depth = 0
