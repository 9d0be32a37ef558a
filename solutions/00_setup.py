"""Worked solutions to the exercises of notebook 00 (setup and orientation).

Each function takes the objects the notebook has made and returns the answer
the exercise asks for; tests/test_solutions_00.py feeds them to the self-checks.
"""


def exercise_1_parameter_count(model):
    # Every weight tensor contributes its number of elements.
    return sum(p.numel() for p in model.parameters())


def exercise_2_new_tokens(generator, prompt):
    # max_new_tokens bounds the tokens generated after the prompt; the pipeline's
    # generated_text includes the prompt itself.
    return generator(prompt, max_new_tokens=8, do_sample=False)[0]["generated_text"]


def exercise_3_model_memory_mb(model):
    # float32: 4 bytes per parameter; 1 MB = 1e6 bytes. In bfloat16 it would be half.
    n_params = sum(p.numel() for p in model.parameters())
    return n_params * 4 / 1e6
