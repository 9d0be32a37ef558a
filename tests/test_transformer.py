"""Unit tests of notebook 04's helpers: llm_course.transformer and its figures.

Every by-hand computation (RMSNorm, the gated MLP, the attention output, a
whole decoder layer, all 30 layers, the final norm and lm_head, the logit
lens) is held equal to the model's own layers on the same hidden states, and
every bad input must raise a clear bilingual ValueError.
"""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from llm_course import attention, models, transformer, viz  # noqa: E402

PROMPT = "The capital of France is"
REL = 1e-5  # the notebook's tolerance: a difference of at most 1e-5 of the largest value


def close(mine, theirs, rel=REL):
    """The notebook's comparison: max |difference| <= rel * max |value|."""
    return float((mine - theirs).abs().max()) <= rel * float(theirs.abs().max())


def run_caught(model, encoded, layers):
    """One forward pass; the inputs and outputs of every listed layer's MLP and the output of its attention."""
    caught = {}

    def hooks_for(i):
        block = model.model.layers[i]

        def mlp(module, args, output):
            caught[("mlp_in", i)], caught[("mlp_out", i)] = args[0][0], output[0]

        def attn(module, args, output):
            caught[("attn_out", i)] = output[0][0]

        return [block.mlp.register_forward_hook(mlp), block.self_attn.register_forward_hook(attn)]

    handles = [h for i in layers for h in hooks_for(i)]
    try:
        with torch.no_grad():
            model(**encoded)
    finally:
        for h in handles:
            h.remove()
    return caught


@pytest.fixture(scope="module")
def smol():
    tokenizer = models.load_tokenizer()
    model = models.load_model(attn_implementation="eager")
    encoded = transformer.encode_prompt(tokenizer, PROMPT, model)
    out, stream = transformer.residual_stream(model, encoded)
    return SimpleNamespace(model=model, tokenizer=tokenizer, encoded=encoded, out=out, stream=stream)


@pytest.fixture(scope="module")
def tiny_llama():
    """A random two-layer Llama with an untied lm_head: the helpers must not depend on SmolLM2's sizes."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=101, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=6, tie_word_embeddings=False,
                         max_position_embeddings=64, attn_implementation="eager")
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # random norm weights, so that a forgotten weight cannot pass
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    encoded = {"input_ids": torch.tensor([[5, 17, 42, 8, 99, 3, 64]])}
    out, stream = transformer.residual_stream(model, encoded)
    return SimpleNamespace(model=model, encoded=encoded, out=out, stream=stream)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- the residual stream ------------------------------------------------------------------


def test_residual_stream_matches_hidden_states(smol):
    with torch.no_grad():
        hs = smol.model(**smol.encoded, output_hidden_states=True).hidden_states
    assert smol.stream.shape == (31, 5, 576)
    for k in range(30):
        assert torch.equal(smol.stream[k], hs[k][0]), k
    # The library's last entry is after the final norm; the stream's is the last layer's raw output.
    assert not torch.allclose(smol.stream[30], hs[30][0])
    assert torch.equal(smol.model.model.norm(smol.stream[30]), hs[30][0])
    assert torch.equal(smol.out.logits, smol.model(**smol.encoded).logits)


def test_residual_stream_removes_its_hooks(smol):
    modules = [smol.model.get_input_embeddings(), *smol.model.model.layers]
    before = [dict(m._forward_hooks) for m in modules]  # the library may hold hooks of its own
    transformer.residual_stream(smol.model, smol.encoded)
    assert [dict(m._forward_hooks) for m in modules] == before


# --- RMSNorm, SiLU, the MLP ---------------------------------------------------------------


@pytest.mark.parametrize("layer", [0, 3, 12, 29])
def test_rms_norm_equals_the_layer_norms(smol, layer):
    block = smol.model.model.layers[layer]
    x = smol.stream[layer]
    for norm in (block.input_layernorm, block.post_attention_layernorm, smol.model.model.norm):
        mine = transformer.rms_norm(x, norm.weight, norm.variance_epsilon)
        assert torch.allclose(mine, norm(x), rtol=1e-5, atol=1e-6)


def test_rms_norm_by_formula():
    x = torch.tensor([[3.0, 4.0]])  # RMS = sqrt((9 + 16) / 2)
    out = transformer.rms_norm(x, torch.tensor([1.0, 2.0]), eps=0.0)
    rms = (12.5) ** 0.5
    assert torch.allclose(out, torch.tensor([[3 / rms, 8 / rms]]))
    assert torch.allclose(transformer.rms_norm(torch.randn(4, 7) * 50, torch.ones(7), 1e-6).pow(2).mean(-1), torch.ones(4))


def test_silu_and_linear():
    z = torch.linspace(-6, 6, 25)
    assert torch.allclose(transformer.silu(z), torch.nn.functional.silu(z), atol=1e-6)
    layer = torch.nn.Linear(5, 3)
    x = torch.randn(2, 5)
    assert torch.allclose(transformer.linear(x, layer), layer(x), atol=1e-6)
    no_bias = torch.nn.Linear(5, 3, bias=False)
    assert torch.allclose(transformer.linear(x, no_bias), no_bias(x), atol=1e-6)


@pytest.mark.parametrize("layer", [0, 3, 20, 29])
def test_mlp_by_hand_equals_the_layers_mlp(smol, layer):
    caught = run_caught(smol.model, smol.encoded, [layer])
    mine = transformer.mlp_by_hand(smol.model, caught[("mlp_in", layer)], layer)
    assert close(mine, caught[("mlp_out", layer)])
    # Position by position gives the same: the MLP never mixes positions.
    one = transformer.mlp_by_hand(smol.model, caught[("mlp_in", layer)][-1], layer)
    assert close(one, caught[("mlp_out", layer)][-1])


def test_mlp_by_hand_with_another_activation_is_refused(tiny_llama):
    model = tiny_llama.model
    model.config.hidden_act = "gelu"
    try:
        with pytest.raises(NotImplementedError, match="SiLU"):
            transformer.mlp_by_hand(model, tiny_llama.stream[0], 0)
    finally:
        model.config.hidden_act = "silu"


# --- attention's output, one layer, all layers --------------------------------------------


@pytest.mark.parametrize("layer", [0, 3, 12, 29])
def test_attention_by_hand_equals_self_attn(smol, layer):
    caught = run_caught(smol.model, smol.encoded, [layer])
    mine = transformer.attention_by_hand(smol.model, smol.stream[layer], layer)
    assert close(mine, caught[("attn_out", layer)])


def test_decoder_layer_by_hand_equals_every_layer(smol):
    for layer in range(30):
        mine = transformer.decoder_layer_by_hand(smol.model, smol.stream[layer], layer)
        assert close(mine, smol.stream[layer + 1]), layer


def test_run_layer_is_the_library_layer(smol, chat_model):
    # Eager: the library's layer called directly gives bit for bit what it gave inside the model.
    for layer in (0, 3, 29):
        assert torch.equal(transformer.run_layer(smol.model, smol.stream[layer][None], layer)[0], smol.stream[layer + 1])
    # sdpa (the default implementation): create_causal_mask gives None and the kernel masks by itself.
    _, sdpa_stream = transformer.residual_stream(chat_model, smol.encoded)
    assert transformer.layer_inputs(chat_model, sdpa_stream[3][None])["attention_mask"] is None
    for layer in (3, 12):
        theirs = transformer.run_layer(chat_model, sdpa_stream[layer][None], layer)[0]
        assert close(theirs, sdpa_stream[layer + 1], rel=1e-6)
        assert close(transformer.decoder_layer_by_hand(chat_model, sdpa_stream[layer], layer), sdpa_stream[layer + 1])


def test_layer_inputs_are_what_the_library_passes(smol):
    x = smol.stream[3][None]
    extra = transformer.layer_inputs(smol.model, x)
    assert extra["position_ids"].tolist() == [[0, 1, 2, 3, 4]]
    mask = extra["attention_mask"][0, 0]
    assert mask.shape == (5, 5)
    assert torch.all(mask.tril() == 0) and torch.all(mask.triu(1)[mask.triu(1) != 0] < -1e30)
    assert int((mask < 0).sum()) == 10
    # The model's rotary embedding agrees with notebook 03's rope_cos_sin.
    cos, sin = extra["position_embeddings"]
    my_cos, my_sin = attention.rope_cos_sin(5, 64, smol.model.config.rope_parameters["rope_theta"])
    assert torch.allclose(cos[0], my_cos, atol=1e-5) and torch.allclose(sin[0], my_sin, atol=1e-5)


def test_layer_inputs_with_the_older_mask_signature(smol, monkeypatch):
    """Colab's older transformers names the argument ``input_embeds`` and wants ``cache_position``."""
    import transformers.masking_utils as masking_utils

    real = masking_utils.create_causal_mask
    seen = {}

    def old_style(config, input_embeds, attention_mask, cache_position, past_key_values, position_ids=None):
        seen["cache_position"] = cache_position
        return real(config=config, inputs_embeds=input_embeds, attention_mask=attention_mask,
                    past_key_values=past_key_values, position_ids=position_ids)

    monkeypatch.setattr(masking_utils, "create_causal_mask", old_style)
    extra = transformer.layer_inputs(smol.model, smol.stream[3][None])
    assert seen["cache_position"].tolist() == [0, 1, 2, 3, 4]
    assert extra["attention_mask"].shape == (1, 1, 5, 5)


def test_an_eager_layer_without_the_mask_looks_ahead(smol):
    block = smol.model.model.layers[3]
    x = smol.stream[3][None]
    extra = transformer.layer_inputs(smol.model, x)
    extra["attention_mask"] = None
    with torch.no_grad():
        unmasked = block(x, **extra)[0]
    assert not close(unmasked, smol.stream[4], rel=1e-3)
    assert torch.allclose(unmasked[-1], smol.stream[4][-1], atol=1e-3)  # the last token sees everything anyway


def test_the_whole_model_by_hand(smol):
    with torch.no_grad():
        hidden = smol.model.model.embed_tokens(smol.encoded["input_ids"])[0]
        assert torch.equal(hidden, smol.stream[0])
        for layer in range(30):
            hidden = transformer.decoder_layer_by_hand(smol.model, hidden, layer)
    logits = transformer.unembed(smol.model, hidden)
    assert torch.allclose(logits, smol.out.logits[0], atol=1e-3)


def test_every_piece_on_a_random_untied_llama(tiny_llama):
    """Other sizes, GQA with two groups, untied lm_head: the pieces still equal the library."""
    model, stream = tiny_llama.model, tiny_llama.stream
    caught = run_caught(model, tiny_llama.encoded, [0, 1])
    for layer in (0, 1):
        assert close(transformer.attention_by_hand(model, stream[layer], layer), caught[("attn_out", layer)])
        assert close(transformer.mlp_by_hand(model, caught[("mlp_in", layer)], layer), caught[("mlp_out", layer)])
        assert close(transformer.decoder_layer_by_hand(model, stream[layer], layer), stream[layer + 1])
    assert torch.allclose(transformer.unembed(model, stream[-1]), tiny_llama.out.logits[0], atol=1e-5)
    assert not transformer.embeddings_are_tied(model)
    counts = transformer.parameter_counts(model)
    assert counts["lm_head"] == 101 * 24 and counts["embeddings"] == 101 * 24
    assert sum(counts.values()) == sum(p.numel() for p in model.parameters())


# --- parameters, the final norm and lm_head, generate -----------------------------------------


def test_parameter_counts_of_smollm2(smol):
    counts = transformer.parameter_counts(smol.model)
    assert counts == {"embeddings": 49152 * 576, "attention": 30 * (2 * 576 * 576 + 2 * 576 * 192),
                      "MLP": 30 * 3 * 576 * 1536, "norms": (2 * 30 + 1) * 576}
    assert sum(counts.values()) == sum(p.numel() for p in smol.model.parameters()) == 134_515_008
    assert counts["MLP"] / sum(counts.values()) == pytest.approx(0.592, abs=0.001)


def test_lm_head_is_the_embedding_matrix(smol):
    model = smol.model
    assert transformer.embeddings_are_tied(model)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()


def test_unembed_gives_the_models_logits_and_generate_agrees(smol):
    logits = transformer.unembed(smol.model, smol.stream[-1])
    assert torch.allclose(logits, smol.out.logits[0], atol=1e-4)
    gen = smol.model.generate(**smol.encoded, max_new_tokens=1, do_sample=False, return_dict_in_generate=True,
                              output_logits=True)
    assert int(gen.sequences[0, -1]) == int(logits[-1].argmax()) == 7042  # ' Paris'
    assert torch.allclose(gen.logits[0][0], logits[-1], atol=1e-4)
    assert float(logits[-1].softmax(-1)[7042]) == pytest.approx(0.773, abs=0.01)


# --- the logit lens ------------------------------------------------------------------------------


def test_logit_lens_of_paris(smol):
    lens = transformer.logit_lens(smol.model, smol.stream)
    assert lens.shape == (31, 49152)
    assert torch.allclose(lens[-1], smol.out.logits[0, -1].softmax(-1), atol=1e-5)
    assert torch.allclose(lens.sum(-1), torch.ones(31), atol=1e-4)
    top = lens.argmax(-1)
    assert transformer.settled_layer(top) == 30  # in this small model ' Paris' comes first only at the end
    ranks = transformer.token_rank(lens, 7042)
    assert int(ranks[-1]) == 1 and int(ranks[:23].min()) > 1000 and int(ranks[29]) == 3
    # The lens at another position is the same computation on another column.
    assert torch.equal(transformer.logit_lens(smol.model, smol.stream, position=1),
                       transformer.unembed(smol.model, smol.stream[:, 1]).softmax(-1))


def test_settled_layer_and_token_rank_by_example():
    assert transformer.settled_layer([4, 1, 2, 3, 3]) == 3
    assert transformer.settled_layer([3, 3, 3]) == 0
    assert transformer.settled_layer([3, 1, 3]) == 2
    assert transformer.settled_layer(torch.tensor([7])) == 0
    with pytest.raises(ValueError, match="empty"):
        transformer.settled_layer([])
    probs = torch.tensor([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    assert transformer.token_rank(probs, 2).tolist() == [2, 2]
    assert transformer.token_rank(probs, 1).tolist() == [1, 3]


def test_common_prefix_length():
    assert transformer.common_prefix_length([1, 2, 3], [1, 2, 4, 5]) == 2
    assert transformer.common_prefix_length([1], [2]) == 0
    assert transformer.common_prefix_length([1, 2], [1, 2]) == 2


# --- the three families ------------------------------------------------------------------------------


def test_encoder_is_bidirectional_and_decoder_causal(smol):
    enc_tokenizer = models.load_tokenizer(models.DEFAULT_ENCODER)
    encoder = models.load_model(models.DEFAULT_ENCODER)
    a, b = "The cat sat on the mat.", "The cat sat on the sofa."
    for m, tok, causal in ((encoder, enc_tokenizer, False), (smol.model, smol.tokenizer, True)):
        ea, eb = tok(a, return_tensors="pt"), tok(b, return_tensors="pt")
        with torch.no_grad():
            va = m(**ea, output_hidden_states=True).hidden_states[-1][0]
            vb = m(**eb, output_hidden_states=True).hidden_states[-1][0]
        n = transformer.common_prefix_length(ea["input_ids"][0].tolist(), eb["input_ids"][0].tolist())
        change = (va[:n] - vb[:n]).norm(dim=-1) / va[:n].norm(dim=-1)
        assert n >= 5
        if causal:
            assert float(change.max()) < 1e-4
        else:
            assert float(change.min()) > 0.1
    assert va.shape[-1] == 576 and encoder.config.hidden_size == 384


@pytest.fixture(scope="module")
def tiny_t5(smol):
    tok = smol.tokenizer
    return transformer.tiny_encoder_decoder(len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)


def test_tiny_encoder_decoder_is_small_seeded_and_t5(smol, tiny_t5):
    assert type(tiny_t5).__name__ == "T5ForConditionalGeneration"
    n = sum(p.numel() for p in tiny_t5.parameters())
    assert 1_000_000 < n < 2_000_000 and tiny_t5.get_memory_footprint() < 10e6
    again = transformer.tiny_encoder_decoder(len(smol.tokenizer), pad_token_id=smol.tokenizer.pad_token_id,
                                             eos_token_id=smol.tokenizer.eos_token_id)
    assert all(torch.equal(p, q) for p, q in zip(tiny_t5.parameters(), again.parameters()))
    other = transformer.tiny_encoder_decoder(len(smol.tokenizer), pad_token_id=smol.tokenizer.pad_token_id,
                                             eos_token_id=smol.tokenizer.eos_token_id, seed=1)
    assert not torch.equal(tiny_t5.shared.weight, other.shared.weight)


def test_cross_attention_shapes(smol, tiny_t5):
    src = smol.tokenizer(PROMPT, return_tensors="pt")
    dec = torch.tensor([[tiny_t5.config.decoder_start_token_id, 7042, 314]])
    with torch.no_grad():
        out = tiny_t5(**src, decoder_input_ids=dec, output_attentions=True)
    assert [tuple(a.shape) for a in out.cross_attentions] == [(1, 4, 3, 5)] * 2
    assert [tuple(a.shape) for a in out.decoder_attentions] == [(1, 4, 3, 3)] * 2
    assert [tuple(a.shape) for a in out.encoder_attentions] == [(1, 4, 5, 5)] * 2
    assert float(attention.upper_triangle_mass(out.decoder_attentions[0]).max()) == 0.0
    assert float(attention.upper_triangle_mass(out.encoder_attentions[0]).min()) > 0.1
    assert bool((out.cross_attentions[0] > 0).all())


@pytest.mark.parametrize("new_tokens", [3, 6])
def test_generate_runs_the_encoder_once_and_the_decoder_per_token(smol, tiny_t5, new_tokens):
    src = smol.tokenizer(PROMPT, return_tensors="pt")
    cross = tiny_t5.decoder.block[0].layer[1].EncDecAttention
    watch = {"encoder": tiny_t5.get_encoder(), "decoder": tiny_t5.get_decoder(), "k": cross.k, "q": cross.q}
    hooks_before = [len(m._forward_pre_hooks) for m in watch.values()]
    with transformer.record_calls(watch) as calls:
        generated = tiny_t5.generate(**src, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    assert generated.shape == (1, new_tokens + 1)  # the start token, then the new ones
    assert calls["encoder"] == [(1, 5)]
    assert calls["decoder"] == [(1, 1)] * new_tokens
    assert calls["k"] == [(1, 5, 32)] and calls["q"] == [(1, 1, 32)] * new_tokens
    assert all(len(m._forward_pre_hooks) == n for m, n in zip(watch.values(), hooks_before))
    assert "encoder: 1 call(s)" in transformer.describe_calls(calls)


def test_record_calls_removes_hooks_on_error():
    layer = torch.nn.Linear(2, 2)
    with pytest.raises(RuntimeError):
        with transformer.record_calls({"layer": layer}) as calls:
            layer(torch.ones(1, 2))
            raise RuntimeError("boom")
    assert calls["layer"] == [(1, 2)] and not layer._forward_pre_hooks


# --- bad input -------------------------------------------------------------------------------------------


def bilingual_error(excinfo, ko: str, en: str):
    text = str(excinfo.value)
    assert "\n" in text, "a Korean line, then an English one"
    first, second = text.split("\n", 1)
    assert ko in first and en in second, text


@pytest.mark.parametrize("layer", [30, -1, True, 1.5, "3", None])
def test_layer_out_of_range(smol, layer):
    with pytest.raises(ValueError) as excinfo:
        transformer.check_layer(smol.model, layer)
    bilingual_error(excinfo, "0부터 29까지", "from 0 to 29")
    x = smol.stream[0]
    for fn in (transformer.mlp_by_hand, transformer.attention_by_hand, transformer.decoder_layer_by_hand):
        with pytest.raises(ValueError, match="from 0 to 29"):
            fn(smol.model, x, layer)
    with pytest.raises(ValueError, match="from 0 to 29"):
        transformer.run_layer(smol.model, x[None], layer)


@pytest.mark.parametrize("text", ["", "   ", None, 42])
def test_empty_prompt(smol, text):
    with pytest.raises(ValueError) as excinfo:
        transformer.encode_prompt(smol.tokenizer, text, smol.model)
    bilingual_error(excinfo, "프롬프트가 비어 있습니다", "The prompt is empty")


def test_too_long_prompt_names_the_context(smol):
    with pytest.raises(ValueError, match="context holds at most 8192"):
        transformer.encode_prompt(smol.tokenizer, "hello " * 9000, smol.model)


def test_encode_prompt_follows_the_models_device(smol):
    encoded = transformer.encode_prompt(smol.tokenizer, PROMPT, smol.model)
    assert encoded["input_ids"].device == smol.model.device
    assert encoded["input_ids"].tolist() == [[504, 3575, 282, 4649, 314]]


# --- figures ----------------------------------------------------------------------------------------------


def test_figures_are_returned(smol):
    labels = attention.token_labels(smol.tokenizer, smol.encoded["input_ids"][0])
    assert isinstance(viz.parameter_bars(transformer.parameter_counts(smol.model)), Figure)
    assert isinstance(viz.residual_norm_plot(smol.stream.norm(dim=-1), labels), Figure)
    lens = transformer.unembed(smol.model, smol.stream).softmax(-1)
    p, ids = lens.max(-1)
    names = [[smol.tokenizer.decode(t) for t in row] for row in ids.tolist()]
    fig = viz.logit_lens_heatmap(p, names, labels)
    assert isinstance(fig, Figure) and len(fig.axes[0].texts) == 31 * 5
    ranks = transformer.token_rank(transformer.logit_lens(smol.model, smol.stream), 7042)
    assert isinstance(viz.token_rank_plot(ranks, " Paris"), Figure)


def test_figures_refuse_bad_input():
    with pytest.raises(ValueError, match="parameter_counts"):
        viz.parameter_bars({})
    with pytest.raises(ValueError, match="one label per token"):
        viz.residual_norm_plot(torch.ones(3, 4), ["a"])
    with pytest.raises(ValueError, match="same shape of labels"):
        viz.logit_lens_heatmap(torch.ones(2, 2), [["a", "b"]], ["x", "y"])
    with pytest.raises(ValueError, match="one rank per layer"):
        viz.token_rank_plot(torch.ones(2, 2), "x")
