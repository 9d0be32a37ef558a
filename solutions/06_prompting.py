"""Worked solutions to the exercises of notebook 06 (prompting and in-context learning).

Each function takes the objects the notebook has made and returns the answer
the exercise asks for; tests/test_prompting.py feeds them to the self-checks.
"""

from llm_course import prompting


def exercise_1_token_count(tokenizer, prompt):
    # Count tokens as the model reads them: tokenizer(...)["input_ids"], not len(prompt).
    return len(tokenizer(prompt)["input_ids"])


def exercise_2_negative_shots(model, tokenizer, shots, test):
    # Two shots, both negative. Whether the model leans to that label is what the check measures
    # and reports against zero-shot (with this small model the pull is one-sided; see the verdict).
    negatives = [s for s in shots if s.label == "negative"][:2]
    prompts = [prompting.few_shot_prompt(r.text, negatives) for r in test]
    predictions = prompting.classify(model, tokenizer, prompts)
    return sum(p == "positive" for p in predictions) / len(predictions)


def exercise_3_label_words(model, tokenizer, shots, test):
    # The label words change in two places: how the shots are written, and which tokens are scored.
    names = {"positive": "good", "negative": "bad"}
    prompts = [prompting.few_shot_prompt(r.text, shots[:4], label_names=names) for r in test]
    predictions = prompting.classify(model, tokenizer, prompts, label_words=(" good", " bad"))
    return prompting.accuracy(predictions, [r.label for r in test])
