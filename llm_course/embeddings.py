"""Token and sentence embeddings, and positions, written out (introduced in notebook 02).

A model first turns each token id into a vector: a row of its embedding
matrix (vocabulary size x hidden size). A sentence encoder such as
all-MiniLM-L6-v2 then averages the vectors its last layer gives each token
(mean pooling) into one vector per sentence. Position enters in two ways: the
BERT-style encoder *adds* a learned vector per position to each token vector;
the Llama-style decoder *rotates* queries and keys by an angle that grows
with the position (rotary position embedding, RoPE; Su et al. 2021,
"RoFormer").

The functions here are the from-scratch versions the notebook writes out,
with input checks that give a clear message; ``tests/test_embeddings.py``
shows each one agrees with the library (``sentence-transformers``' ``encode``,
``torch.nn.functional.cosine_similarity``, transformers' rotary embedding).
"""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F

from . import tokens
from .i18n import bilingual, josa

SENTENCES_FILE = "embeddings_sentences.json"


def load_sentences() -> dict:
    """The sentences written for notebook 02 (``assets/embeddings_sentences.json``).

    Keys: ``heatmap`` (a list), ``groups`` (topic -> sentences) and ``search``
    (``en``/``ko`` -> ten ``sentences`` and ten ``queries``; query i asks about
    sentence i).
    """
    from . import asset_path

    return json.loads(asset_path(SENTENCES_FILE).read_text(encoding="utf-8"))

# --------------------------------------------------------------------------
# Token embeddings
# --------------------------------------------------------------------------


def token_id(tokenizer, token: str) -> int:
    """The id of ``token`` if the tokenizer reads it as exactly one token (notebook 02).

    GPT-2-style tokenizers keep a leading space inside the token, so ``" cat"``
    and ``"cat"`` are different tokens. Raises ``ValueError`` for an empty
    string or a text that splits into several tokens, naming the pieces
    (readable, as :func:`llm_course.tokens.token_pieces` shows them).
    """
    if not isinstance(token, str) or token == "":
        raise ValueError(bilingual("토큰이 비어 있습니다. ' cat' 같은 단어를 주세요(문장 가운데의 단어라면 앞에 공백).",
                                   "The token is empty. Give a word such as ' cat' (with a leading space for a "
                                   "word in the middle of a sentence)."))
    ids = tokenizer(token, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        # readable pieces (bytes of a split character in hex, as in notebook 01), not raw byte-level symbols
        pieces = [piece for _, piece in tokens.token_pieces(tokenizer, token)]
        raise ValueError(bilingual(
            f"{josa(repr(token), '은/는')} 토큰 하나가 아니라 {len(ids)}개입니다 {pieces}. 토크나이저가 통째로 두는 단어를 고르세요"
            "(흔한 영어 단어, 앞 공백이 있거나 없거나).",
            f"{token!r} is {len(ids)} tokens {pieces}, not one. Choose a word the tokenizer "
            "keeps whole (try a common English word, with or without a leading space)."))
    return ids[0]


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine of the angle between vectors, along the last dimension (notebook 02).

    ``a · b / (|a| |b|)``: 1 for the same direction, 0 for orthogonal, -1 for
    opposite. Broadcasts like ``torch.nn.functional.cosine_similarity``.
    """
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def nearest_tokens(tokenizer, embedding_matrix: torch.Tensor, token: str, k: int = 8) -> list[tuple[str, float]]:
    """The ``k`` tokens whose embedding rows are closest (cosine) to ``token``'s row (notebook 02).

    The token itself comes first with similarity 1. Returns ``(token, cosine)``
    pairs, tokens shown as the tokenizer writes them (``Ġ`` marks a leading
    space in GPT-2-style vocabularies).
    """
    vocab_size = embedding_matrix.shape[0]
    if not isinstance(k, int) or not 1 <= k <= vocab_size:
        raise ValueError(bilingual(f"k는 1부터 어휘 크기 {vocab_size}까지의 정수여야 합니다. 들어온 값: {k!r}",
                                   f"k must be an integer from 1 to the vocabulary size {vocab_size}; got {k!r}."))
    tid = token_id(tokenizer, token)
    with torch.no_grad():
        sims = cosine_similarity(embedding_matrix, embedding_matrix[tid])  # (vocab_size,)
        top = sims.topk(k)
    names = tokenizer.convert_ids_to_tokens(top.indices.tolist())
    return [(name, round(float(s), 3)) for name, s in zip(names, top.values)]


# --------------------------------------------------------------------------
# Sentence embeddings
# --------------------------------------------------------------------------


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each sentence, leaving out padding (notebook 02).

    ``last_hidden_state``: (batch, seq_len, hidden); ``attention_mask``:
    (batch, seq_len) with 1 for real tokens. Returns (batch, hidden).
    """
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)  # (batch, seq_len, 1) broadcasts over hidden
    return (last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def _check_sentences(sentences) -> list[str]:
    if isinstance(sentences, str):
        sentences = [sentences]
    sentences = list(sentences)
    if not sentences:
        raise ValueError(bilingual("문장이 없습니다. 비어 있지 않은 문자열의 목록을 주세요.",
                                   "No sentences given. Pass a list of non-empty strings."))
    for i, s in enumerate(sentences):
        if not isinstance(s, str) or not s.strip():
            raise ValueError(bilingual(f"문장 {i}번이 비어 있습니다({s!r}). 임베딩할 글이 있어야 합니다.",
                                       f"Sentence {i} is empty ({s!r}). Every sentence needs some text to embed."))
    return sentences


def sentence_embeddings(sentences, tokenizer, model, *, max_length: int | None = None,
                        normalize: bool = True) -> torch.Tensor:
    """Sentence vectors of an encoder, by mean pooling written out (notebook 02).

    What ``SentenceTransformer.encode`` does for all-MiniLM-L6-v2: tokenize
    with padding, run the encoder, mean-pool the last layer over the real
    tokens and scale each vector to length 1. ``max_length`` defaults to the
    encoder's position limit; a longer text raises ``ValueError`` instead of
    being cut silently.
    """
    sentences = _check_sentences(sentences)
    limit = max_length or model.config.max_position_embeddings
    # verbose=False: we give our own message for too-long text below
    batch = tokenizer(sentences, padding=True, truncation=False, return_tensors="pt", verbose=False)
    lengths = batch["attention_mask"].sum(dim=1)
    too_long = [(i, int(n)) for i, n in enumerate(lengths) if n > limit]
    if too_long:
        i, n = too_long[0]
        raise ValueError(bilingual(
            f"문장 {i}번이 {n}토큰인데 이 인코더는 최대 {limit}토큰까지 읽습니다. 짧은 단락으로 나눠 하나씩 임베딩하세요.",
            f"Sentence {i} has {n} tokens; this encoder reads at most {limit}. Split the text "
            "into shorter passages and embed each one."))
    batch = batch.to(model.device)
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state  # (batch, seq_len, hidden)
    pooled = mean_pool(hidden, batch["attention_mask"])
    return F.normalize(pooled, dim=-1) if normalize else pooled


def semantic_search(query_embedding: torch.Tensor, corpus_embeddings: torch.Tensor, k: int = 3) -> list[int]:
    """Indices of the ``k`` corpus vectors most similar (cosine) to the query, best first (notebook 02)."""
    n = corpus_embeddings.shape[0]
    if not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(bilingual(f"k는 1부터 문장 수 {n}까지의 정수여야 합니다. 들어온 값: {k!r}",
                                   f"k must be an integer from 1 to the corpus size {n}; got {k!r}."))
    scores = cosine_similarity(corpus_embeddings, query_embedding.reshape(1, -1))  # (n,)
    return scores.topk(k).indices.tolist()


def mean_similarity_within_and_between(embeddings: torch.Tensor, groups: list) -> tuple[float, float]:
    """Mean cosine of pairs in the same group and of pairs in different groups (notebook 02)."""
    if len(groups) != embeddings.shape[0]:
        raise ValueError(bilingual(f"벡터 {embeddings.shape[0]}개에 그룹 이름이 {len(groups)}개입니다. 벡터마다 이름을 하나씩 주세요.",
                                   f"{len(groups)} group labels for {embeddings.shape[0]} vectors; give one label per vector."))
    sims = cosine_similarity(embeddings[:, None, :], embeddings[None, :, :])  # (n, n)
    same = torch.tensor([[a == b for b in groups] for a in groups])
    off_diagonal = ~torch.eye(len(groups), dtype=torch.bool)
    return float(sims[same & off_diagonal].mean()), float(sims[~same].mean())


# --------------------------------------------------------------------------
# Positions
# --------------------------------------------------------------------------


def similarity_by_distance(position_embeddings: torch.Tensor, max_distance: int = 256) -> torch.Tensor:
    """Mean cosine between learned position vectors ``d`` apart, for d = 0 .. max_distance (notebook 02)."""
    n = position_embeddings.shape[0]
    if not isinstance(max_distance, int) or not 0 <= max_distance < n:
        raise ValueError(bilingual(f"위치가 {n}개이므로 max_distance는 0부터 {n - 1}까지입니다. 들어온 값: {max_distance!r}",
                                   f"max_distance must be from 0 to {n - 1} for {n} positions; got {max_distance!r}."))
    with torch.no_grad():
        unit = F.normalize(position_embeddings, dim=-1)
        sims = unit @ unit.T  # (n, n)
        return torch.stack([sims.diagonal(d).mean() for d in range(max_distance + 1)])


def rope_inverse_frequencies(head_dim: int, theta: float) -> torch.Tensor:
    """The rotation speed of each pair of dimensions: ``1 / theta^(2i / head_dim)`` (notebook 02)."""
    if head_dim <= 0 or head_dim % 2:
        raise ValueError(bilingual(f"head_dim은 양의 짝수여야 합니다(차원이 둘씩 짝지어 회전합니다). 들어온 값: {head_dim}",
                                   f"head_dim must be a positive even number (dimensions rotate in pairs); got {head_dim}."))
    return 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)


def rope_rotate(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotary position embedding written out (notebook 02).

    ``x``: (..., seq_len, head_dim) queries or keys; ``positions``: (seq_len,).
    Dimension ``i`` is paired with ``i + head_dim/2`` (the Llama layout, not
    neighbouring dimensions) and each pair turns by ``position * inv_freq[i]``.
    """
    head_dim = x.shape[-1]
    inv_freq = rope_inverse_frequencies(head_dim, theta)
    angles = positions.to(torch.float32)[:, None] * inv_freq[None, :]  # (seq_len, head_dim/2)
    cos, sin = angles.cos(), angles.sin()
    first, second = x[..., : head_dim // 2], x[..., head_dim // 2:]
    return torch.cat((first * cos - second * sin, first * sin + second * cos), dim=-1)


def rope_score_by_distance(head_dim: int, theta: float, max_distance: int = 256) -> torch.Tensor:
    """How RoPE alone changes a query-key score with distance (notebook 02).

    The same unit vector (equal weight on every dimension) is the query at
    position ``d`` and the key at position 0; without RoPE the score would be
    1 at every distance. With it the score is the mean of ``cos(d * inv_freq)``
    over the pairs. Returns the scores for d = 0 .. max_distance.
    """
    if not isinstance(max_distance, int) or max_distance < 0:
        raise ValueError(bilingual(f"max_distance는 0 이상의 정수여야 합니다. 들어온 값: {max_distance!r}",
                                   f"max_distance must be a non-negative integer; got {max_distance!r}."))
    v = torch.full((head_dim,), head_dim ** -0.5)
    distances = torch.arange(max_distance + 1)
    q = rope_rotate(v.expand(len(distances), head_dim), distances, theta)  # (d, head_dim)
    k = rope_rotate(v[None, :], torch.zeros(1, dtype=torch.long), theta)  # (1, head_dim)
    return (q * k).sum(-1)
