"""Self-checks of notebook 02 (embeddings): ``embeddings_*``."""

from __future__ import annotations

from .core import (AnswerProblem, CheckArgumentError, CheckResult, as_int_list, as_number, check, not_answered,
                   reference, reference_int, reference_model, reference_text, reference_texts, reference_tokenizer,
                   self_check, shown, wrong)


@self_check
def embeddings_token_similarity(answer, tokenizer, model, word_a: str = " cat", word_b: str = " dog") -> CheckResult:
    """Exercise 02.1: cosine similarity of two tokens' rows in the chat model's embedding matrix."""
    import torch.nn.functional as F

    from ..embeddings import token_id

    reference_tokenizer(tokenizer)
    reference_model(model)
    id_a = reference(word_a, "word_a", lambda word: token_id(tokenizer, word))
    id_b = reference(word_b, "word_b", lambda word: token_id(tokenizer, word))
    if answer is None:
        return not_answered("`cat_dog`에 두 토큰 벡터의 코사인 유사도를 넣으세요.",
                            "put the two token vectors' cosine similarity into `cat_dog`.")
    value = as_number(answer)
    matrix = model.get_input_embeddings().weight.detach()
    truth = float(F.cosine_similarity(matrix[id_a], matrix[id_b], dim=0))
    return check(
        abs(value - truth) < 1e-3,
        (f"맞습니다. {word_a!r}와 {word_b!r}의 코사인 유사도는 {truth:.3f}입니다.",
         f"Right: the cosine similarity of {word_a!r} and {word_b!r} is {truth:.3f}."),
        wrong(answer, "힌트: 두 토큰의 ID로 임베딩 행렬의 행을 꺼내 `F.cosine_similarity(a, b, dim=0)`을 계산하세요.",
              "Hint: take the two tokens' rows of the embedding matrix by id and compute "
              "`F.cosine_similarity(a, b, dim=0)`."),
    )


@self_check
def embeddings_semantic_search(answer, query: str, sentences: list[str], encoder, k: int = 3) -> CheckResult:
    """Exercise 02.2: indices of the ``k`` sentences closest to ``query``, best first."""
    from ..embeddings import semantic_search

    reference_text(query, "query")
    sentences = reference_texts(sentences, "sentences")
    k = reference_int(k, "k", minimum=1, maximum=len(sentences))
    if not callable(getattr(encoder, "encode", None)):
        raise CheckArgumentError("encoder", f"`encoder` 인자는 SentenceTransformer 모델이어야 합니다(받은 값: {shown(encoder)}).",
                                 f"`encoder` must be a SentenceTransformer model (got {shown(encoder)}).")
    if answer is None:
        return not_answered(f"`top{k}`에 가장 비슷한 문장 {k}개의 번호를 순서대로 넣으세요.",
                            f"put the indices of the {k} most similar sentences, best first, into `top{k}`.")
    given = as_int_list(answer, length=k)
    vectors = encoder.encode([query, *sentences], convert_to_tensor=True)
    truth = semantic_search(vectors[0], vectors[1:], k=k)
    if given[0] == truth[0] and given != truth:
        raise AnswerProblem(f"1등({truth[0]}번)은 맞았습니다. 나머지 순서를 확인하세요: 유사도가 큰 것부터입니다.",
                            f"The best match ({truth[0]}) is right; check the rest: highest similarity first.")
    return check(
        given == truth,
        (f"맞습니다. 질문에 가장 가까운 문장은 {truth[0]}번: {sentences[truth[0]]!r}",
         f"Right: the sentence closest to the query is {truth[0]}: {sentences[truth[0]]!r}"),
        wrong(answer, f"질문과 문장들을 `encode`한 뒤 코사인 유사도가 큰 순서로 번호 {k}개를 고르세요 (`topk`).",
              f"Encode the query and the sentences, then take the {k} indices with the highest cosine "
              "similarity (`topk`)."),
    )
