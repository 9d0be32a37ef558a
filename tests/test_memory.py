"""llm_course.memory (notebook 08): the byte arithmetic matches what transformers and bitsandbytes
report, the hand-written int8 and NF4 give what bitsandbytes.functional gives, the KV-cache formula
matches a real cache, and bad input gets a bilingual message that names the valid range."""

import logging
import math
import re
import sys
import warnings

import bitsandbytes as bnb  # pinned in requirements.txt: a missing install must fail here, not skip
import bitsandbytes.functional as bnb_functional
import pytest
import torch

from llm_course import memory, perplexity, quantization, viz

HANGUL = re.compile("[가-힣]")


def bilingual_error(excinfo) -> str:
    """The message of a raised error, checked to hold both Korean and English."""
    text = str(excinfo.value)
    assert HANGUL.search(text) and re.search("[A-Za-z]{4,}", text), text
    return text


def random_weight(seed, shape=(384, 256)):
    """A weight-like tensor: normal, with a few large outliers like trained weights have."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g) * 0.02
    w.view(-1)[torch.randint(0, w.numel(), (20,), generator=g)] *= 30
    return w


# --------------------------------------------------------------------------
# 1. Bytes per parameter, names and Korean units
# --------------------------------------------------------------------------


def test_bytes_per_parameter():
    assert memory.bytes_per_parameter("fp32") == memory.bytes_per_parameter(torch.float32) == 4
    assert memory.bytes_per_parameter("bf16") == memory.bytes_per_parameter("float16") == 2
    assert memory.bytes_per_parameter("int8") == 1
    assert memory.bytes_per_parameter("nf4") == memory.bytes_per_parameter("fp4") == 0.5 + 4 / 64
    assert memory.bytes_per_parameter("nf4", include_scales=False) == 0.5
    assert memory.bytes_per_parameter("nf4", double_quant=True) == pytest.approx(0.5 + 1 / 64 + 4 / (64 * 256))
    assert memory.bytes_per_parameter("nf4", blocksize=128) == 0.5 + 4 / 128


@pytest.fixture(scope="module")
def meta_llama():
    return memory.build_on_meta(memory.llama3_8b_config())


def test_the_chat_guide_claims_for_an_8b_model(meta_llama):
    n = memory.count_parameters(meta_llama)
    assert n == 8_030_261_248  # Llama-3-8B's published count
    assert memory.weights_memory(n, "float32") / 1e9 == pytest.approx(32.1, abs=0.05)
    assert memory.weights_memory(n, "bfloat16") / 1e9 == pytest.approx(16.1, abs=0.05)
    assert memory.weights_memory(n, "float32") > 24e9 > memory.weights_memory(n, "bfloat16")


@pytest.mark.parametrize("bad", [0, -5, float("nan"), True, "8B", None])
def test_weights_memory_rejects_bad_parameter_counts(bad):
    with pytest.raises(ValueError) as err:
        memory.weights_memory(bad, "float32")
    assert "> 0" in bilingual_error(err)


def test_unknown_dtype_lists_the_known_ones():
    with pytest.raises(ValueError) as err:
        memory.bytes_per_parameter("int3")
    text = bilingual_error(err)
    for name in ("float32", "bfloat16", "float16", "int8", "nf4", "fp4"):
        assert name in text


@pytest.mark.parametrize("n, keep, expected", [
    (8_030_261_248, 2, "80억 3,026만"),
    (8_030_261_248, 1, "80억"),
    (46_702_792_704, 1, "467억"),  # Mixtral-8x7B: not 56억, not 560억
    (56e9, 1, "560억"),
    (134_515_008, 2, "1억 3,452만"),
    (12_879_921_152, 1, "129억"),  # the last unit is rounded
    (1.5e12, 2, "1조 5,000억"),
    (5_000, 1, "5,000"),
])
def test_korean_units(n, keep, expected):
    assert memory.korean_units(n, keep=keep) == expected


@pytest.mark.parametrize("name, total, active, experts", [
    ("Llama-3-8B", 8e9, None, None),
    ("SmolLM2-135M-Instruct", 135e6, None, None),
    ("Mixtral-8x7B", 56e9, None, 8),
    ("Mixtral-8x22B-v0.1", 176e9, None, 8),
    ("Model-141B-A35B", 141e9, 35e9, None),
    ("OLMoE-1B-7B", 7e9, 1e9, None),
    ("Qwen1.5-MoE-A2.7B", None, 2.7e9, None),
])
def test_size_from_name(name, total, active, experts):
    size = memory.size_from_name(name)
    assert (size.total_in_name, size.active_in_name, size.experts) == (total, active, experts)


def test_size_from_name_without_a_size():
    with pytest.raises(ValueError) as err:
        memory.size_from_name("gpt-four")
    assert "8x7B" in bilingual_error(err)


# --------------------------------------------------------------------------
# 2. Parameters from configs alone, and mixtures of experts
# --------------------------------------------------------------------------


def test_meta_models_have_no_storage_and_published_sizes():
    mixtral = memory.build_on_meta(memory.mixtral_8x7b_config())
    assert all(p.device.type == "meta" for p in mixtral.parameters())
    count = memory.moe_parameters(mixtral)
    assert count.total == 46_702_792_704
    assert count.active == count.total - count.expert + count.expert * 2 // 8
    assert count.active / 1e9 == pytest.approx(12.9, abs=0.05)  # Mixtral's published "12.9B active"
    big = memory.moe_parameters(memory.build_on_meta(memory.mixtral_8x22b_config()))
    assert big.total / 1e9 == pytest.approx(140.6, abs=0.1) and big.active / 1e9 == pytest.approx(39.2, abs=0.1)
    olmoe = memory.moe_parameters(memory.build_on_meta(memory.olmoe_1b_7b_config()))
    assert olmoe.total / 1e9 == pytest.approx(6.9, abs=0.05) and olmoe.active / 1e9 == pytest.approx(1.3, abs=0.05)


def test_moe_parameters_refuses_a_dense_model(meta_llama):
    with pytest.raises(ValueError) as err:
        memory.moe_parameters(meta_llama)
    bilingual_error(err)


@pytest.fixture(scope="module")
def tiny_moe():
    from transformers import AutoModelForCausalLM, MixtralConfig

    torch.manual_seed(0)
    config = MixtralConfig(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, num_local_experts=8, num_experts_per_tok=2)
    return AutoModelForCausalLM.from_config(config).eval()


def test_router_logits_pick_top_k_experts(tiny_moe):
    ids = torch.arange(10)[None]
    with torch.no_grad():
        out = tiny_moe(ids, output_router_logits=True)
    chosen = memory.selected_experts(out.router_logits, top_k=2)
    assert chosen.shape == (2, 10, 2)
    manual = out.router_logits[0].softmax(dim=-1).topk(2, dim=-1).indices  # the router's own rule
    assert torch.equal(chosen[0].sort(dim=-1).values, manual.sort(dim=-1).values)
    one, many = memory.distinct_experts(chosen, 1), memory.distinct_experts(chosen, 10)
    assert one == [2, 2] and all(2 <= m <= 8 for m in many) and sum(many) > sum(one)


# --------------------------------------------------------------------------
# 3. Footprints of real loaded models, for each precision
# --------------------------------------------------------------------------

PRECISION_KWARGS = {
    "bfloat16": lambda: dict(dtype=torch.bfloat16),
    "int8": lambda: dict(quantization_config=_bnb_config(load_in_8bit=True)),
    "nf4": lambda: dict(quantization_config=_bnb_config(load_in_4bit=True, bnb_4bit_quant_type="nf4")),
    "fp4": lambda: dict(quantization_config=_bnb_config(load_in_4bit=True, bnb_4bit_quant_type="fp4")),
    "nf4-double": lambda: dict(quantization_config=_bnb_config(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                               bnb_4bit_use_double_quant=True)),
}


def _bnb_config(**kwargs):
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(**kwargs)


@pytest.fixture(scope="module")
def loaded():
    """The packaged model in every precision, loaded once on the CPU (the quantized CPU kernels are tested)."""
    from transformers import AutoModelForCausalLM

    from llm_course import models

    logging.getLogger("bitsandbytes.autograd._functions").setLevel(logging.ERROR)
    path = models.model_path()
    return {name: AutoModelForCausalLM.from_pretrained(path, device_map="cpu", **make()).eval()
            for name, make in PRECISION_KWARGS.items()}


@pytest.mark.parametrize("name", ["float32", *PRECISION_KWARGS])
def test_calculator_equals_get_memory_footprint(chat_model, loaded, name):
    model = chat_model if name == "float32" else loaded[name]
    precision = name.split("-")[0]
    assert memory.predicted_footprint(chat_model, precision) == model.get_memory_footprint()
    # the quantized model itself, shapes read through Params4bit, predicts the same
    assert memory.predicted_footprint(model, precision) == model.get_memory_footprint()
    assert memory.count_parameters(model) == model.num_parameters() == 134_515_008


def test_scales_outside_the_footprint(chat_model, loaded):
    linears = [m for n, m in chat_model.named_modules() if isinstance(m, torch.nn.Linear) and n != "lm_head"]
    rows = sum(m.out_features for m in linears)
    weights = sum(m.weight.numel() for m in linears)
    assert memory.quantization_state_bytes(chat_model) == 0
    assert memory.quantization_state_bytes(loaded["int8"]) == 4 * rows  # one float32 SCB per row
    with torch.no_grad():  # the first forward pass moves SCB from the weight to the layer's state
        loaded["int8"](torch.tensor([[1, 2, 3]]))
    assert memory.quantization_state_bytes(loaded["int8"]) == 4 * rows
    assert memory.quantization_state_bytes(loaded["nf4"]) == weights // 64 * 4  # one float32 absmax per block
    double = sum(weights_ // 64 + math.ceil(weights_ / 64 / 256) * 4 + 4
                 for weights_ in (m.weight.numel() for m in linears))
    assert memory.quantization_state_bytes(loaded["nf4-double"]) == double
    assert memory.weights_memory(weights, "nf4") - weights * 0.5 == pytest.approx(weights // 64 * 4)


def test_parameters_by_dtype_sees_packed_4bit(loaded):
    by_dtype = memory.parameters_by_dtype(loaded["nf4"])
    assert set(by_dtype) == {"uint8", "float32"}
    assert by_dtype["uint8"] * 2 + by_dtype["float32"] == 134_515_008
    assert set(memory.parameters_by_dtype(loaded["int8"])) == {"int8", "float32"}


def test_missing_bitsandbytes_names_the_install_command(monkeypatch):
    assert quantization.require_bitsandbytes() == bnb.__version__
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import now raises ImportError
    with pytest.raises(ImportError) as err:
        quantization.require_bitsandbytes()
    assert "pip install bitsandbytes" in bilingual_error(err)


# --------------------------------------------------------------------------
# 4. Quantization by hand against bitsandbytes.functional
# --------------------------------------------------------------------------
# Tolerances: the hand-written code does the same float32 arithmetic in the same order as
# bitsandbytes' CPU kernels (x * (127 / absmax), x * (1 / absmax), nearest level by midpoints), so
# on this torch and bitsandbytes the codes are identical. A different order of operations (another
# bitsandbytes release, or its CUDA kernels) may round a value that sits exactly on a rounding
# boundary the other way: the tests allow at most 1 in 10,000 codes to differ, by one step only,
# and compare scales to float32 precision (relative 1e-6).


def _codes_agree(ours, theirs, max_share=1e-4):
    differ = ours.to(torch.int32) != theirs.to(torch.int32)
    assert differ.float().mean().item() <= max_share
    assert (ours.to(torch.int32) - theirs.to(torch.int32)).abs().max().item() <= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_row_wise_absmax_int8_equals_bitsandbytes(seed):
    w = random_weight(seed)
    q, absmax = quantization.absmax_quantize(w, dim=1)
    codes, scales, _ = bnb_functional.int8_vectorwise_quant(w.clone())
    _codes_agree(q, codes)
    torch.testing.assert_close(absmax.squeeze(1), scales, rtol=1e-6, atol=0)
    back = quantization.absmax_dequantize(q, absmax)
    assert (back - w).abs().max() <= absmax.max() / 127 / 2 + 1e-7  # at most half a step per value


def test_int8_equals_what_a_loaded_linear8bitlt_stores(chat_model, loaded):
    w = chat_model.model.layers[3].self_attn.o_proj.weight.detach().half()  # bitsandbytes quantizes from float16
    q, absmax = quantization.absmax_quantize(w, dim=1)
    layer = loaded["int8"].model.layers[3].self_attn.o_proj
    _codes_agree(q, layer.weight.detach())
    scb = layer.weight.SCB if layer.weight.SCB is not None else layer.state.SCB
    torch.testing.assert_close(absmax.squeeze(1), scb, rtol=1e-6, atol=0)


def test_nf4_code_book_equals_bitsandbytes():
    ours = quantization.nf4_code_book()
    theirs = bnb_functional.get_4bit_type("nf4", device="cpu")
    # quantiles computed in float64 here, with scipy in bitsandbytes; stored in float32 in both
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    assert ours[7] == 0 and ours[0] == -1 and ours[-1] == 1 and len(ours) == 16


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blockwise_nf4_equals_bitsandbytes(seed):
    w = random_weight(seed)
    codes, absmax = quantization.nf4_quantize(w, blocksize=64)
    packed, state = bnb_functional.quantize_4bit(w, blocksize=64, quant_type="nf4")
    torch.testing.assert_close(absmax, state.absmax, rtol=1e-6, atol=0)
    theirs = torch.stack([packed.reshape(-1) >> 4, packed.reshape(-1) & 0xF], dim=1).reshape(-1)
    _codes_agree(codes, theirs)
    assert torch.equal(quantization.pack_4bit(theirs), packed.reshape(-1))  # the same packing: first code in the high half
    ours_back = quantization.nf4_dequantize(codes, absmax, w.shape)
    torch.testing.assert_close(ours_back, bnb_functional.dequantize_4bit(packed, state), rtol=0, atol=1e-6)


def test_nf4_equals_what_a_loaded_linear4bit_stores(chat_model, loaded):
    w = chat_model.model.layers[5].mlp.down_proj.weight.detach()
    codes, absmax = quantization.nf4_quantize(w)
    layer = loaded["nf4"].model.layers[5].mlp.down_proj
    assert not quantization.stored_layout(layer).packed_for_cpu  # no forward pass has run on it in this module
    stored, stored_absmax = quantization.stored_4bit(layer.weight)
    assert torch.equal(stored, layer.weight.detach().reshape(-1))  # the standard layout is read as it is
    _codes_agree(quantization.pack_4bit(codes) >> 4, stored >> 4)
    _codes_agree(quantization.pack_4bit(codes) & 0xF, stored & 0xF)
    torch.testing.assert_close(absmax, stored_absmax, rtol=1e-6, atol=0)


def test_hand_written_nf4_equals_a_linear4bit_after_it_ran(chat_model):
    """Notebook 08, section 3: after the measurements' forward passes, whichever path this CPU takes."""
    from transformers import AutoModelForCausalLM

    from llm_course import models

    model = AutoModelForCausalLM.from_pretrained(models.model_path(), device_map="cpu",
                                                 **PRECISION_KWARGS["nf4"]()).eval()
    layer = model.model.layers[0].mlp.gate_proj
    before, scales_before = quantization.stored_layout(layer), memory.quantization_state_bytes(model)
    with torch.no_grad():
        model(torch.tensor([[1, 2, 3, 4]]))
    after = quantization.stored_layout(layer)
    # the path bitsandbytes reports is the path it took: repacked exactly where it has AVX-512-BF16
    assert after.packed_for_cpu == quantization.bitsandbytes_path("cpu").repacks_4bit
    assert not before.packed_for_cpu and after.weight_bytes == before.weight_bytes
    w = chat_model.model.layers[0].mlp.gate_proj.weight.detach()
    codes, absmax = quantization.nf4_quantize(w)
    stored, stored_absmax = quantization.stored_4bit(layer.weight)
    assert torch.equal(quantization.pack_4bit(codes), stored)
    torch.testing.assert_close(absmax.to(stored_absmax.dtype).float(), stored_absmax.float(), rtol=1e-6, atol=0)
    weights = sum(m.weight.numel() * 2 for m in model.modules() if type(m).__name__ == "Linear4bit")
    assert scales_before == weights // 64 * 4
    assert memory.quantization_state_bytes(model) == weights // 64 * (2 if after.packed_for_cpu else 4)


# --------------------------------------------------------------------------
# 4b. bitsandbytes' two CPU layouts of a 4-bit weight, tested on any CPU
# --------------------------------------------------------------------------
# On a CPU with AVX-512-BF16, Linear4bit.forward repacks its weight with
# bitsandbytes.functional._convert_weight_packed_for_cpu (plain torch), which these tests call
# themselves, so both layouts are inspected on every machine; no forward pass runs on a
# repacked layer (without AVX-512-BF16 no kernel could read it).


def _linear4bit(seed, double_quant=False, quant_type="nf4", shape=(96, 128)):
    w = random_weight(seed, shape)
    layer = bnb.nn.Linear4bit(shape[1], shape[0], bias=False, quant_type=quant_type,
                              compress_statistics=double_quant)
    layer.weight = bnb.nn.Params4bit(w.clone(), requires_grad=False, quant_type=quant_type,
                                     compress_statistics=double_quant, module=layer)
    return w, layer.to("cpu").eval()  # .to() quantizes


def _repack_for_cpu(layer):
    """What Linear4bit.forward does at its first no-grad pass on a CPU with AVX-512-BF16."""
    layer.weight.data, layer.weight.quant_state = bnb_functional._convert_weight_packed_for_cpu(
        layer.weight.data, layer.weight.quant_state)


@pytest.mark.parametrize("seed, quant_type", [(0, "nf4"), (1, "nf4"), (2, "fp4")])
def test_stored_4bit_reads_both_cpu_layouts(seed, quant_type):
    w, layer = _linear4bit(seed, quant_type=quant_type)
    packed, state = bnb_functional.quantize_4bit(w, blocksize=64, quant_type=quant_type)
    loaded = quantization.stored_layout(layer)
    assert (loaded.kind, loaded.weight_dtype, loaded.weight_shape) == ("Params4bit", "uint8", (96 * 128 // 2, 1))
    assert (loaded.scale_dtype, loaded.scale_shape, loaded.scale_bytes) == ("float32", (96 * 128 // 64,), 192 * 4)
    assert not loaded.packed_for_cpu and not loaded.double_quant
    codes, absmax = quantization.stored_4bit(layer.weight)
    assert torch.equal(codes, packed.reshape(-1)) and torch.equal(absmax, state.absmax)

    _repack_for_cpu(layer)
    repacked = quantization.stored_layout(layer)
    assert repacked.packed_for_cpu and repacked.weight_shape == (96, 64)
    assert repacked.weight_bytes == loaded.weight_bytes
    assert (repacked.scale_dtype, repacked.scale_shape, repacked.scale_bytes) == ("bfloat16", (2, 96), 192 * 2)
    assert not torch.equal(layer.weight.detach().reshape(-1), packed.reshape(-1))  # the bytes really moved
    codes, absmax = quantization.stored_4bit(layer.weight)
    assert torch.equal(codes, packed.reshape(-1))  # ... and come back in the standard order
    assert absmax.dtype == torch.bfloat16 and torch.equal(absmax, state.absmax.to(torch.bfloat16))
    assert quantization.stored_layout(layer) == repacked  # reading it back left the layer as it was
    change = quantization.layout_change(loaded, repacked)
    assert "bfloat16" in change and "(96, 64)" in change and HANGUL.search(change)
    assert "Double quantization" not in change
    if quant_type == "nf4":  # the notebook's hand-written NF4 against the repacked layer
        ours, ours_absmax = quantization.nf4_quantize(w)
        assert torch.equal(quantization.pack_4bit(ours), codes)
        assert torch.equal(ours_absmax.to(torch.bfloat16), absmax)


def test_repacking_undoes_double_quantization():
    w, layer = _linear4bit(3, double_quant=True, shape=(64, 1024))  # 1,024 blocks: 4 groups of 256 scales
    loaded = quantization.stored_layout(layer)
    assert loaded.double_quant and loaded.scale_dtype == "uint8"
    assert loaded.scale_bytes == memory.quantization_state_bytes(layer) == 1024 + 4 * 4 + 4
    exact = w.reshape(-1, 64).abs().amax(dim=1)
    _, absmax = quantization.stored_4bit(layer.weight)  # de-quantized 8-bit scales: close, not exact
    assert absmax.dtype == torch.float32 and ((absmax - exact).abs() / exact).max() < 0.05
    _repack_for_cpu(layer)
    repacked = quantization.stored_layout(layer)
    assert not repacked.double_quant and repacked.scale_dtype == "bfloat16"
    assert repacked.scale_bytes == memory.quantization_state_bytes(layer) == 1024 * 2  # more than double quant's
    assert "Double quantization is undone" in quantization.layout_change(loaded, repacked)
    codes, _ = quantization.stored_4bit(layer.weight)
    assert torch.equal(codes, bnb_functional.quantize_4bit(w, blocksize=64, quant_type="nf4")[0].reshape(-1))


def test_stored_layout_of_other_layers(chat_model, loaded):
    plain = quantization.stored_layout(chat_model.model.layers[0].mlp.gate_proj)
    assert (plain.kind, plain.weight_dtype, plain.scale_dtype, plain.scale_bytes) == ("Parameter", "float32", None, 0)
    assert quantization.layout_change(plain, plain).startswith("첫 순전파 뒤에도")
    int8 = quantization.stored_layout(loaded["int8"].model.layers[0].mlp.gate_proj)
    assert (int8.weight_dtype, int8.scale_dtype, int8.scale_shape) == ("int8", "float32", (1536,))
    with pytest.raises(ValueError) as err:
        quantization.stored_4bit(chat_model.model.layers[0].mlp.gate_proj.weight)
    assert "Params4bit" in bilingual_error(err)
    with pytest.raises(ValueError) as err:
        quantization.stored_layout(torch.nn.ReLU())
    bilingual_error(err)


def test_bitsandbytes_path_reports_what_bitsandbytes_decides():
    from bitsandbytes.backends.cpu import ops as cpu_ops

    path = quantization.bitsandbytes_path("cpu")
    assert path.device_type == "cpu" and path.cpu_capability == torch.backends.cpu.get_cpu_capability()
    assert path.avx512_bf16 == bool(bnb_functional.has_avx512bf16()) == path.repacks_4bit
    assert path.int8_int_mm == cpu_ops._has_avx512
    assert not path.hub_kernel or path.avx512_bf16  # the Hub kernel is only tried with AVX-512-BF16
    # every path reads in Korean and English, whichever this machine takes
    for avx512_bf16 in (False, True):
        for int_mm in (False, True):
            for hub in (False, True):
                text = str(quantization.BitsandbytesPath("cpu", "AVX2", avx512_bf16, int_mm, hub, avx512_bf16))
                assert HANGUL.search(text) and "4-bit" in text and "4비트" in text
                assert ("packing_format_for_cpu" in text) == avx512_bf16 and ("torch._int_mm" in text) == int_mm
    assert "CUDA" in str(quantization.BitsandbytesPath("cuda", None, False, False, False, True))
    assert not quantization.BitsandbytesPath("cuda", None, True, False, False, True).repacks_4bit


def test_the_hub_kernel_notice_is_dropped_at_its_logger():
    memory.quiet_known_notices()
    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")

    def record(message):
        return logger.makeRecord(logger.name, logging.WARNING, __file__, 1, message, (), None)

    assert not logger.filter(record("Failed to load CPU gemm_4bit_forward from kernels-community: No module "
                                    "named 'kernels'. Please make sure you already `pip install kernels`"))
    assert logger.filter(record("any other warning"))  # only that one line is dropped
    memory.quiet_known_notices()  # idempotent: still one filter
    assert sum(type(f).__name__ == "_DropHubKernelNotice" for f in logger.filters) == 1


def test_nf4_code_book_follows_the_input_device():
    x = torch.empty(4, 64, device="meta")
    codes, absmax = quantization.nf4_quantize(x)
    assert codes.device.type == absmax.device.type == "meta"
    assert quantization.nf4_dequantize(codes, absmax, x.shape).device.type == "meta"
    codes, absmax = quantization.nf4_quantize(random_weight(0))
    assert codes.device.type == "cpu" and quantization.nf4_dequantize(codes, absmax, (384, 256)).device.type == "cpu"


def test_absmax_per_tensor_and_zeropoint_round_trips():
    w = random_weight(5) + 0.01  # a little lopsided
    q, absmax = quantization.absmax_quantize(w)
    assert q.dtype == torch.int8 and q.abs().max() == 127 and absmax.ndim == 0
    q, scale, zero = quantization.zeropoint_quantize(w, dim=1)
    assert (q.amin(dim=1) <= -127).all() and (q.amax(dim=1) >= 126).all()  # every row uses the whole range
    back = quantization.zeropoint_dequantize(q, scale, zero)
    # half a step from rounding; at the ends of the range the integer zero point can add the other half
    assert ((back - w).abs() <= scale * 1.0001).all()
    # fewer bits, more error; finer scales, less error
    errors = [quantization.relative_error(w, quantization.blockwise_absmax_roundtrip(w, b)) for b in (2, 3, 4, 8)]
    assert errors == sorted(errors, reverse=True)
    per_tensor = quantization.relative_error(w, quantization.absmax_dequantize(*quantization.absmax_quantize(w, bits=4), bits=4))
    assert quantization.relative_error(w, quantization.blockwise_absmax_roundtrip(w, 4)) < per_tensor


@pytest.mark.parametrize("bad", [1, 9, 4.0, True])
def test_bits_must_be_between_2_and_8(bad):
    with pytest.raises(ValueError) as err:
        quantization.absmax_quantize(torch.ones(4), bits=bad)
    assert "2" in bilingual_error(err) and "8" in str(err.value)


def test_blocks_must_divide_the_tensor():
    with pytest.raises(ValueError) as err:
        quantization.nf4_quantize(torch.ones(100), blocksize=64)
    bilingual_error(err)


# --------------------------------------------------------------------------
# 5. The KV cache and speed
# --------------------------------------------------------------------------


def test_kv_cache_formula_equals_a_real_cache(chat_model):
    config = chat_model.config
    assert memory.kv_cache_bytes(config, 1) == 30 * 2 * 3 * 64 * 4 == 46_080
    ids = torch.arange(100, 150)[None]
    with torch.no_grad():
        out = chat_model(ids, use_cache=True, logits_to_keep=1)
    assert memory.cache_tensor_bytes(out.past_key_values) == memory.kv_cache_bytes(config, 50)
    legacy = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
    assert memory.cache_tensor_bytes(legacy) == memory.kv_cache_bytes(config, 50)
    assert memory.kv_cache_bytes(config, 50, batch_size=2, dtype="bf16") == memory.kv_cache_bytes(config, 50)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "1000"])
def test_kv_cache_rejects_an_empty_context(chat_model, bad):
    with pytest.raises(ValueError) as err:
        memory.kv_cache_bytes(chat_model.config, bad)
    assert ">= 1" in bilingual_error(err)


@pytest.mark.parametrize("bandwidth, per_token", [(0, 1e9), (-5, 1e9), (20e9, 0), ("20 GB/s", 1e9)])
def test_predicted_speed_rejects_zero_bandwidth(bandwidth, per_token):
    with pytest.raises(ValueError) as err:
        memory.predicted_tokens_per_second(bandwidth, per_token)
    assert "> 0" in bilingual_error(err)


def test_predicted_speed_and_bytes_read(chat_model, meta_llama):
    assert memory.predicted_tokens_per_second(20e9, 8e9) == 2.5
    # tied embeddings: the output layer reads the whole matrix, so every byte is read per token
    assert memory.decode_bytes_per_token(chat_model) == chat_model.get_memory_footprint()
    untied = meta_llama
    embedding = untied.get_input_embeddings().weight
    assert memory.decode_bytes_per_token(untied) == untied.get_memory_footprint() - embedding.numel() * 4


def test_compare_speeds_says_what_was_measured():
    text = memory.compare_speeds({"float32": 10.0, "bfloat16": 10.5, "int8": 4.0, "nf4": 15.0})
    assert "bfloat16은 float32와 속도가 거의 같았습니다" in text and "int8은 float32보다 느렸습니다" in text
    assert "nf4는 float32보다 빨랐습니다" in text and "속도 1.50배" in text
    assert "int8 was slower than float32 (4.0 against 10.0 tokens/s, 0.40x the speed)" in text
    assert "nf4 was faster than float32" in text and "bfloat16 was about as fast as float32" in text
    assert text.index("디코딩") < text.index("Decoding")  # Korean first, English after
    seconds = memory.compare_speeds({"float32": 2.1, "bfloat16": 0.9}, unit="s", task=("채점", "scoring"))
    assert "bfloat16은 float32보다 빨랐습니다(0.9초 대 2.1초, 속도 2.33배)" in seconds  # less time is faster
    assert "Scoring, as measured" in seconds
    for bad in ({"int8": 4.0}, {"float32": 0, "int8": 4.0}, {"float32": float("nan")}):
        with pytest.raises(ValueError) as err:
            memory.compare_speeds(bad)
        bilingual_error(err)
    with pytest.raises(ValueError) as err:
        memory.compare_speeds({"float32": 1.0}, unit="ms")
    bilingual_error(err)


def test_measure_bandwidth_is_plausible():
    bandwidth = memory.measure_bandwidth(size_mb=64, repeats=2)
    assert 0.1e9 < bandwidth < 1e13
    with pytest.raises(ValueError):
        memory.measure_bandwidth(size_mb=0)


def test_timed_generate_equals_generate(chat_model, chat_tokenizer):
    enc = chat_tokenizer("The capital of France is", return_tensors="pt")
    run = memory.timed_generate(chat_model, enc, max_new_tokens=6)
    with torch.no_grad():
        plain = chat_model.generate(**enc, max_new_tokens=6, do_sample=False)
    assert torch.equal(run.output_ids, plain) and run.new_tokens == 6
    assert len(run.step_times) == 6 and run.decode_tokens_per_second > 0 and run.seconds > 0
    lookup = memory.timed_generate(chat_model, enc, max_new_tokens=6, prompt_lookup_num_tokens=3)
    assert torch.equal(lookup.output_ids, plain) and lookup.step_times == ()


# --------------------------------------------------------------------------
# 6. Perplexity with a sliding window
# --------------------------------------------------------------------------


def _direct_nll(model, ids):
    with torch.no_grad():
        logits = model(ids).logits[:, :-1]
    return float(torch.nn.functional.cross_entropy(logits[0], ids[0, 1:], reduction="sum"))


def test_one_window_equals_the_plain_loss(chat_model, chat_tokenizer):
    ids = perplexity.text_ids(chat_tokenizer, perplexity.heldout_text("en"))
    nll, n, windows = perplexity.sliding_window_nll(chat_model, ids, max_length=512, stride=256)
    assert (n, windows) == (ids.shape[1] - 1, 1)
    assert nll == pytest.approx(_direct_nll(chat_model, ids), rel=1e-5)


@pytest.mark.parametrize("max_length, stride", [(64, 32), (64, 63), (100, 37)])
def test_every_token_is_scored_once(chat_model, chat_tokenizer, max_length, stride):
    ids = perplexity.text_ids(chat_tokenizer, perplexity.heldout_text("ko"))
    nll, n, windows = perplexity.sliding_window_nll(chat_model, ids, max_length=max_length, stride=stride)
    assert n == ids.shape[1] - 1 and windows > 1


def test_sliding_window_equals_scoring_each_token_with_its_own_context(chat_model):
    """A reference that runs the model once per token, on exactly the context its window gives it."""
    ids = torch.arange(200, 224)[None]  # 24 tokens
    max_length, stride = 10, 6
    nll, n, windows = perplexity.sliding_window_nll(chat_model, ids, max_length=max_length, stride=stride)
    reference, scored_until = 0.0, 1
    for begin in range(0, ids.shape[1], stride):
        end = min(begin + max_length, ids.shape[1])
        for target in range(scored_until, end):
            with torch.no_grad():
                logits = chat_model(ids[:, begin:target]).logits[0, -1]
            reference -= float(torch.log_softmax(logits, dim=-1)[ids[0, target]])
        scored_until = end
        if end == ids.shape[1]:
            break
    assert (n, windows) == (23, 4)
    assert nll == pytest.approx(reference, rel=1e-5)


def test_sliding_window_rejects_a_stride_as_long_as_the_window(chat_model):
    with pytest.raises(ValueError) as err:
        perplexity.sliding_window_nll(chat_model, torch.tensor([[1, 2, 3]]), max_length=4, stride=4)
    assert "1 ~ 3" in bilingual_error(err)


def test_text_perplexity_in_bits_per_character_and_byte(chat_model, chat_tokenizer):
    text = perplexity.heldout_text("ko")
    score = perplexity.text_perplexity(chat_model, chat_tokenizer, text)
    assert score.characters == len(text) and score.utf8_bytes == len(text.encode("utf-8"))
    assert score.bits_per_character == pytest.approx(score.nll / math.log(2) / len(text))
    assert score.bits_per_byte < score.bits_per_character  # a Hangul syllable takes 3 bytes
    assert score.perplexity == pytest.approx(math.exp(score.nll / score.n_tokens))


def test_heldout_texts():
    for lang in ("ko", "en"):
        text = perplexity.heldout_text(lang)
        assert len(text) > 50 and not any(line.startswith("#") for line in text.splitlines())
    assert HANGUL.search(perplexity.heldout_text("ko")) and not HANGUL.search(perplexity.heldout_text("en"))
    with pytest.raises(ValueError) as err:
        perplexity.heldout_text("fr")
    bilingual_error(err)
    with pytest.raises(ValueError):
        perplexity.text_ids(None, "  ")


# --------------------------------------------------------------------------
# 7. Figures
# --------------------------------------------------------------------------


def test_figures_are_returned_without_missing_glyphs(caplog):
    rows = {"float32": {"footprint": 538e6, "ppl": {"ko": 8.1, "en": 44.0}},
            "nf4": {"footprint": 166e6, "ppl": {"ko": 10.6, "en": 60.1}}}
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        figs = [
            viz.footprint_perplexity_plot(rows),
            viz.quantization_error_plot([2, 4, 8], {"행별 absmax": [0.8, 0.15, 0.008]}, {"NF4": (4, 0.09)}),
            viz.router_heatmap(torch.rand(3, 8), ["'가'", "'b'", "'c'"], top_k=2, title="라우터"),
        ]
        for fig in figs:
            fig.canvas.draw()
    assert all(hasattr(f, "savefig") for f in figs)
    assert not [w for w in caught if "Glyph" in str(w.message) or "glyph" in str(w.message)]
    assert "glyph" not in caplog.text.lower()
    with pytest.raises(ValueError):
        viz.footprint_perplexity_plot(rows, baseline="int8")
    with pytest.raises(ValueError):
        viz.router_heatmap(torch.rand(3, 8), ["a"])
