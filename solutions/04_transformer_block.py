"""Worked solutions to the exercises of notebook 04 (the transformer block).

Each function takes the objects the notebook has made and returns the answer
the exercise asks for; tests/test_solutions_04.py feeds them to the self-checks.
"""

import torch


def exercise_1_mlp_params(model):
    # Three matrices, none with a bias in SmolLM2: gate_proj and up_proj are
    # (intermediate_size, hidden_size), down_proj is (hidden_size, intermediate_size).
    config = model.config
    return 3 * config.hidden_size * config.intermediate_size


def exercise_2_mlp_by_hand(model, inputs, layer):
    # Catch what the library feeds the MLP (after post_attention_layernorm) with a
    # forward hook, then write the gated MLP out at the last position.
    mlp = model.model.layers[layer].mlp
    caught = {}

    def keep(module, args, output):
        caught["input"] = args[0].detach()

    handle = mlp.register_forward_hook(keep)
    with torch.no_grad():
        model(**inputs)
    handle.remove()
    x = caught["input"][0, -1]  # (hidden_size,): the last position
    with torch.no_grad():
        gate = x @ mlp.gate_proj.weight.T  # (intermediate_size,)
        up = x @ mlp.up_proj.weight.T  # (intermediate_size,)
        return (gate * torch.sigmoid(gate) * up) @ mlp.down_proj.weight.T  # SiLU(gate) * up -> (hidden_size,)


def exercise_3_settled_layer(model, tokenizer, prompt):
    # The residual stream before the final norm: the embeddings, then every
    # layer's output (out.hidden_states[-1] is already normed, so use a hook for the last layer).
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    stream = []

    def keep(module, args, output):
        stream.append(output[0, -1].detach())  # (hidden_size,): the last position only

    handles = [model.model.embed_tokens.register_forward_hook(keep)]
    handles += [layer.register_forward_hook(keep) for layer in model.model.layers]
    with torch.no_grad():
        model(**inputs)
        for handle in handles:
            handle.remove()
        top = [int(model.lm_head(model.model.norm(h)).argmax()) for h in stream]  # one top token per row
    k = len(top) - 1
    while k > 0 and top[k - 1] == top[-1]:  # walk back while the final choice is still on top
        k -= 1
    return k
