"""Worked solutions to the exercises of notebook 02 (embeddings).

Each function takes the notebook's objects and returns the answer the
exercise asks for; ``tests/test_embeddings.py`` feeds them to the self-checks.
"""

import torch.nn.functional as F


def exercise_1_cat_dog(tokenizer, model, word_a=" cat", word_b=" dog"):
    """★ Cosine similarity of two tokens' rows in the embedding matrix."""
    E = model.get_input_embeddings().weight.detach()  # (vocab_size, hidden_size)
    id_a = tokenizer(word_a, add_special_tokens=False)["input_ids"][0]
    id_b = tokenizer(word_b, add_special_tokens=False)["input_ids"][0]
    return float(F.cosine_similarity(E[id_a], E[id_b], dim=0))


def exercise_2_top3(st_model, query, docs, k=3):
    """★★ Indices of the k sentences closest to the query, highest similarity first."""
    doc_vectors = st_model.encode(docs, convert_to_tensor=True)  # (10, 384), length 1 each
    query_vector = st_model.encode(query, convert_to_tensor=True)  # (384,)
    scores = doc_vectors @ query_vector  # dot product of unit vectors = cosine similarity
    return scores.topk(k).indices.tolist()
