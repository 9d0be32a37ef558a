"""Tokens made visible (introduced in notebook 01).

A tokenizer turns text into a list of integer ids and back. This module holds
the plumbing notebook 01 uses to *look* at that list: the pieces of text each
token stands for, shown as coloured spans; token counts for the same sentence
under different tokenizers; and the merges a byte-level BPE learned, written
so a person can read them.

Byte-level BPE (GPT-2, SmolLM2, GPT-4's ``cl100k_base``) works on UTF-8
bytes, not characters. A Hangul syllable takes three bytes, and when the
vocabulary has no token for the whole syllable, the tokenizer falls back to
pieces of it: a token may then stand for one or two bytes that are not a
character on their own. :func:`readable_piece` writes such bytes as hex in
angle brackets (``<EB 82>``), so a learner sees where a syllable was split.

SentencePiece-style BPE with byte fallback (Gemma 3) works on characters
and writes a space as ``▁``; a character with no token of its own falls back
to byte tokens ``<0xED>``, ``<0x96>`` ... Those are shown the same way, so the
two kinds of tokenizer can be compared span for span.

The functions accept the kinds of tokenizer the notebook compares: a
transformers tokenizer (``AutoTokenizer``), a ``tokenizers.Tokenizer`` (the
one trained in the notebook) and a ``tiktoken.Encoding``. Counts never include
special tokens: they measure the text itself.

(A little over 400 lines: the byte-level and byte-fallback decoding, the spans
and the counts all serve notebook 01 and read best together.)

Why one module of about 470 lines: every part is notebook 01's and reads the same byte-level
alphabet (bytes → pieces → spans → counts → merges); split, each part would import the others.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

from . import asset_path
from .i18n import bilingual, josa

PARALLEL_FILE = "parallel_ko_en.tsv"
KOREAN_SAMPLE_FILE = "korean_sample.txt"

# Pastel backgrounds that stay readable with black text; neighbours always differ.
SPAN_COLOURS = ("#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6")


# --------------------------------------------------------------------------
# The course's text files
# --------------------------------------------------------------------------


def _content_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def load_parallel(path: str | Path | None = None) -> list[tuple[str, str]]:
    """The course's parallel sentences as ``(korean, english)`` pairs (notebook 01).

    The file is tab-separated, one pair per line; lines starting with ``#`` are comments.
    """
    path = Path(path) if path else asset_path(PARALLEL_FILE)
    pairs = []
    for number, line in enumerate(_content_lines(path), 1):
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(bilingual(f"{path.name}: {number}번 쌍의 한국어와 영어 사이에 탭이 정확히 하나 있어야 합니다: {line!r}",
                                       f"{path.name}: pair {number} needs exactly one tab between Korean and English: {line!r}"))
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def load_korean_sample(path: str | Path | None = None) -> list[str]:
    """The Korean sample text written for the course, as a list of lines (notebook 01)."""
    return _content_lines(Path(path) if path else asset_path(KOREAN_SAMPLE_FILE))


# --------------------------------------------------------------------------
# Checking input
# --------------------------------------------------------------------------


def check_text(text) -> str:
    """Return ``text`` if it is a non-empty string, else raise a ValueError saying what to pass."""
    if not isinstance(text, str):
        raise ValueError(bilingual(f"글(문자열)이 필요한데 {type(text).__name__} 형식이 들어왔습니다. 따옴표로 감싼 문장을 주세요. "
                                   "예: '오늘은 날씨가 맑습니다.'",
                                   f"Expected a string of text, got {type(text).__name__}. Pass a sentence in quotes, "
                                   "for example '오늘은 날씨가 맑습니다.'"))
    if not text.strip():
        raise ValueError(bilingual("글이 비어 있어 토큰으로 나눌 것이 없습니다. 단어를 하나 이상 주세요. 예: '오늘은 날씨가 맑습니다.'",
                                   "The text is empty: there is nothing to tokenize. Pass at least one word, "
                                   "for example '오늘은 날씨가 맑습니다.'"))
    return text


# --------------------------------------------------------------------------
# Bytes and pieces
# --------------------------------------------------------------------------


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from each of the 256 byte values to a printable character (notebook 01).

    Byte-level BPE vocabularies store tokens as strings of these characters:
    printable bytes stand for themselves and the others are shifted above
    U+0100, so a space (byte 32) is written ``Ġ`` and the first byte of many
    Hangul syllables (0xEB) ``ë``. The table is transformers' own
    (``transformers.convert_slow_tokenizer.bytes_to_unicode``), the one the
    ``tokenizers`` library's ``ByteLevel`` pre-tokenizer uses too.
    """
    from transformers.convert_slow_tokenizer import bytes_to_unicode as library_table

    return library_table()


@lru_cache(maxsize=1)
def unicode_to_bytes() -> dict[str, int]:
    """The inverse of :func:`bytes_to_unicode`."""
    return {c: b for b, c in bytes_to_unicode().items()}


def byte_level_to_bytes(token: str) -> bytes:
    """The bytes a byte-level BPE token string stands for (``'Ġë§ĳ'`` -> ``b' \\xeb\\xa7\\x91'``)."""
    table = unicode_to_bytes()
    try:
        return bytes(table[c] for c in token)
    except KeyError as err:
        raise ValueError(bilingual(f"{josa(repr(token), '은/는')} 바이트 수준 토큰 문자열이 아닙니다(문자 {err.args[0]!r}).",
                                   f"{token!r} is not a byte-level token string (character {err.args[0]!r}).")) from None


def readable_piece(data: bytes) -> str:
    """Text for a token's bytes: characters where the bytes are valid UTF-8, hex where not.

    ``b'\\xeb\\x82\\x98'`` is ``'나'``; a lone ``b'\\xeb\\x82'`` (two thirds of a
    syllable) becomes ``'<EB 82>'``.
    """
    text = data.decode("utf-8", errors="surrogateescape")
    out, stray = [], []
    for ch in text:
        if 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that is not part of a complete character
            stray.append(f"{ord(ch) - 0xDC00:02X}")
            continue
        if stray:
            out.append("<" + " ".join(stray) + ">")
            stray = []
        out.append(ch)
    if stray:
        out.append("<" + " ".join(stray) + ">")
    return "".join(out)


def _kind(tokenizer) -> str:
    if hasattr(tokenizer, "encode_ordinary") and hasattr(tokenizer, "decode_single_token_bytes"):
        return "tiktoken"
    from tokenizers import Tokenizer

    if isinstance(tokenizer, Tokenizer):
        return "tokenizers"
    if callable(tokenizer) and hasattr(tokenizer, "convert_ids_to_tokens"):
        return "transformers"
    raise ValueError(bilingual(f"지원하지 않는 토크나이저입니다({type(tokenizer).__name__}). transformers 토크나이저, "
                               "tokenizers.Tokenizer, tiktoken Encoding 중 하나를 주세요.",
                               f"Unsupported tokenizer {type(tokenizer).__name__}: pass a transformers tokenizer, "
                               "a tokenizers.Tokenizer or a tiktoken Encoding."))


def _has_byte_level(component) -> bool:
    """True if a tokenizers decoder or pre-tokenizer is ByteLevel or a Sequence that holds one."""
    if component is None:
        return False
    try:
        spec = json.loads(component.__getstate__())
    except (AttributeError, TypeError, ValueError):
        return type(component).__name__ == "ByteLevel"

    def walk(node) -> bool:
        if not isinstance(node, dict):
            return False
        if node.get("type") == "ByteLevel":
            return True
        return any(walk(child) for key in ("decoders", "pretokenizers") for child in node.get(key) or [])

    return walk(spec)


def _is_byte_level(tokenizer) -> bool:
    """True for byte-level BPE (GPT-2 style), however the tokenizer's decoder is assembled.

    transformers before 5.18 (Colab has 5.15) converts this GGUF's tokenizer with
    the decoder ``Sequence[ByteFallback, Fuse, Replace, ByteLevel]``; later
    releases give a plain ``ByteLevel``. Both are byte-level, and so is any
    tokenizer whose pre-tokenizer is ByteLevel.
    """
    kind = _kind(tokenizer)
    if kind == "tiktoken":
        return True
    backend = tokenizer if kind == "tokenizers" else getattr(tokenizer, "backend_tokenizer", None)
    return _has_byte_level(getattr(backend, "decoder", None)) or _has_byte_level(getattr(backend, "pre_tokenizer", None))


def _is_byte_fallback(tokenizer) -> bool:
    """True for a SentencePiece-style BPE with byte fallback (Gemma 3): ``▁`` for a space, ``<0xEB>`` byte tokens."""
    if _kind(tokenizer) == "tiktoken":
        return False
    backend = tokenizer if _kind(tokenizer) == "tokenizers" else getattr(tokenizer, "backend_tokenizer", None)
    return bool(getattr(getattr(backend, "model", None), "byte_fallback", False))


def _fallback_piece_bytes(piece: str) -> bytes:
    """``'<0xED>'`` -> ``b'\\xed'``; any other piece is its text, with ``▁`` back to a space."""
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        try:
            return bytes([int(piece[3:5], 16)])
        except ValueError:
            pass
    return piece.replace("\u2581", " ").encode("utf-8")


def _token_bytes(tokenizer, ids: list[int]) -> list[bytes] | None:
    """The bytes each token stands for, or None for a tokenizer that has no bytes (WordPiece)."""
    kind = _kind(tokenizer)
    if kind == "tiktoken":
        return [tokenizer.decode_single_token_bytes(i) for i in ids]
    byte_level = _is_byte_level(tokenizer)
    if not byte_level and not _is_byte_fallback(tokenizer):
        return None
    strings = [tokenizer.id_to_token(i) for i in ids] if kind == "tokenizers" else tokenizer.convert_ids_to_tokens(ids)
    special = set(getattr(tokenizer, "all_special_tokens", []) or [])
    to_bytes = byte_level_to_bytes if byte_level else _fallback_piece_bytes
    return [s.encode("utf-8") if s in special else to_bytes(s) for s in strings]


def character_labels(tokenizer, ids) -> list[str]:
    """One label per token that a learner can read, even where a token holds part of a character.

    A byte-level BPE splits a Hangul syllable (3 bytes in UTF-8) over several
    tokens, and each piece decoded alone is "�". Here such a piece is labelled
    with the syllable it belongs to and which part it is: the three tokens of
    "안" become ``안(1/3)``, ``안(2/3)``, ``안(3/3)``. Whole characters show as
    themselves, a newline as ``\\n``. Notebooks 01 and 03 (the attention heatmaps).
    """
    ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    if ids and isinstance(ids[0], list):  # a batch of one
        ids = ids[0]
    raw = _token_bytes(tokenizer, ids)
    if raw is None:
        pieces = [tokenizer.decode([i]) for i in ids]
    else:
        # Where each character of the whole byte string starts and ends, then which tokens cover it.
        starts, text, position = [], [], 0
        data = b"".join(raw)
        while position < len(data):
            for width in (1, 2, 3, 4):
                chunk = data[position:position + width]
                try:
                    text.append(chunk.decode("utf-8"))
                    break
                except UnicodeDecodeError:
                    continue
            else:  # a byte that starts no character: show it in hex
                width, chunk = 1, data[position:position + 1]
                text.append(f"<{chunk.hex().upper()}>")
            starts.append((position, position + width))
            position += width
        bounds, offset = [], 0
        for piece in raw:
            bounds.append((offset, offset + len(piece)))
            offset += len(piece)
        pieces = []
        for lo, hi in bounds:
            parts = []
            for (c_lo, c_hi), ch in zip(starts, text):
                if c_hi <= lo or c_lo >= hi:
                    continue
                if lo <= c_lo and c_hi <= hi:
                    parts.append(ch)
                else:  # this token holds part of ch: which part of how many?
                    covering = [k for k, (t_lo, t_hi) in enumerate(bounds) if t_lo < c_hi and t_hi > c_lo]
                    mine = [k for k, b in enumerate(bounds) if b == (lo, hi)][0]
                    parts.append(f"{ch}({covering.index(mine) + 1}/{len(covering)})")
            pieces.append("".join(parts))
    labels = []
    for piece in pieces:
        piece = piece.replace("\n", "\\n")
        labels.append(piece if piece.strip() else repr(piece))
    return labels


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of ``text`` without special tokens (notebook 01)."""
    return _encode(tokenizer, check_text(text))


def _encode(tokenizer, text: str) -> list[int]:
    """:func:`encode` without the check: also a line break or a space on its own, as a corpus holds them."""
    kind = _kind(tokenizer)
    if kind == "tiktoken":
        return tokenizer.encode_ordinary(text)
    if kind == "tokenizers":
        return tokenizer.encode(text, add_special_tokens=False).ids
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def count_tokens(tokenizer, text: str) -> int:
    """How many tokens ``text`` takes, special tokens not included (notebook 01)."""
    return len(encode(tokenizer, text))


def _pieces(tokenizer, text: str) -> list[tuple[int, str, bool]]:
    """``(id, readable piece, holds part of a character)`` for each token."""
    ids = encode(tokenizer, text)
    raw = _token_bytes(tokenizer, ids)
    if raw is None:  # WordPiece: its own token strings, ## marks included
        kind = _kind(tokenizer)
        strings = [tokenizer.id_to_token(i) for i in ids] if kind == "tokenizers" \
            else tokenizer.convert_ids_to_tokens(ids)
        return [(i, s, False) for i, s in zip(ids, strings)]
    out = []
    for i, data in zip(ids, raw):
        try:
            data.decode("utf-8")
            partial = False
        except UnicodeDecodeError:
            partial = True
        out.append((i, readable_piece(data), partial))
    return out


def token_pieces(tokenizer, text: str) -> list[tuple[int, str]]:
    """``(token id, readable piece)`` for each token of ``text`` (notebook 01).

    Byte-level tokens are shown as the text they stand for, with partial
    characters in hex (:func:`readable_piece`); other tokenizers (WordPiece)
    show their own token strings, ``##`` continuation marks included.
    """
    return [(i, piece) for i, piece, _ in _pieces(tokenizer, text)]


# --------------------------------------------------------------------------
# Tokens as coloured spans
# --------------------------------------------------------------------------


def tokens_html_string(tokenizer, text: str, *, max_shown: int = 200, context_length: int | None = None) -> str:
    """The HTML of :func:`show_tokens` as a string (pure: tests call it directly)."""
    pieces = _pieces(tokenizer, text)
    if context_length is not None and len(pieces) > context_length:
        raise ValueError(bilingual(
            f"이 글은 {len(pieces):,}토큰으로, 모델의 문맥 {context_length:,}토큰보다 깁니다. 모델이 한 번에 읽을 수 없으니 "
            "짧게 나누세요.",
            f"This text is {len(pieces):,} tokens long, more than the model's context of {context_length:,} "
            "tokens: the model could not read it at once. Split it into shorter parts."))
    spans = []
    for n, (token_id, piece, partial) in enumerate(pieces[:max_shown]):
        style = (f"background:{SPAN_COLOURS[n % len(SPAN_COLOURS)]};color:#000;padding:1px 2px;"
                 "margin:0 1px;border-radius:3px;white-space:pre;font-family:monospace;line-height:2")
        if partial:
            style += ";border:1px dashed #c00"
        spans.append(f'<span title="id {token_id}" style="{style}">{html.escape(piece)}</span>')
    more = len(pieces) - max_shown
    tail = f' <span style="color:#666">… (+{more} more tokens)</span>' if more > 0 else ""
    return (f'<div style="margin:4px 0">{"".join(spans)}{tail}'
            f'<div style="color:#666;font-size:85%">{len(pieces)} tokens</div></div>')


def show_tokens(tokenizer, text: str, *, max_shown: int = 200, context_length: int | None = None):
    """Tokens of ``text`` as coloured spans, returned as an ``IPython.display.HTML`` (notebook 01).

    Each span is one token (hover for its id); a dashed red border marks a
    token that holds only part of a character (shown as hex bytes). At most
    ``max_shown`` tokens are drawn. With ``context_length`` given, a text
    longer than the model can read raises a ValueError.
    """
    from IPython.display import HTML

    return HTML(tokens_html_string(tokenizer, text, max_shown=max_shown, context_length=context_length))


# --------------------------------------------------------------------------
# Counting across languages
# --------------------------------------------------------------------------


def count_table(tokenizers: dict, pairs: list[tuple[str, str]]) -> dict[str, list[tuple[int, int]]]:
    """``{tokenizer name: [(korean count, english count) per pair]}`` (notebook 01)."""
    return {name: [(count_tokens(tok, ko), count_tokens(tok, en)) for ko, en in pairs]
            for name, tok in tokenizers.items()}


def ratio_summary(table: dict[str, list[tuple[int, int]]]) -> dict[str, dict[str, float]]:
    """Totals and the Korean/English ratio of the totals for each tokenizer of :func:`count_table`."""
    out = {}
    for name, rows in table.items():
        ko = sum(k for k, _ in rows)
        en = sum(e for _, e in rows)
        out[name] = {"korean": ko, "english": en, "ratio": ko / en}
    return out


def tokens_per_character(tokenizer, texts) -> float:
    """Tokens per character over ``texts`` (a string or a list of strings), notebooks 01 and 09.

    Every character counts, spaces, line breaks and punctuation included
    (``len`` of the text), and special tokens do not: total tokens / total
    characters. A list may hold lines that are only a line break (a corpus's
    blank lines); an empty string, something not a string, or texts with
    nothing but spaces are refused with :func:`check_text`'s message.
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    for text in texts:
        if not isinstance(text, str) or text == "":
            check_text(text)
    check_text("".join(texts))
    return sum(len(_encode(tokenizer, t)) for t in texts) / sum(len(t) for t in texts)


def is_hangul_syllable(ch: str) -> bool:
    """True for one precomposed Hangul syllable, 가 (U+AC00) to 힣 (U+D7A3) (notebook 01)."""
    return "\uac00" <= ch <= "\ud7a3"


def hangul_tokens(tokenizer) -> list[str]:
    """The readable pieces of the vocabulary that hold at least one whole Hangul syllable (notebook 01).

    Byte-level tokens are turned back into their bytes first (most of them are
    not text on their own), byte-fallback pieces have ``▁`` turned back into a
    space; a WordPiece vocabulary is read as it is. In id order.
    """
    if _kind(tokenizer) == "tiktoken":
        raise ValueError(bilingual("tiktoken의 어휘는 get_vocab으로 읽을 수 없습니다. transformers 토크나이저나 "
                                   "tokenizers.Tokenizer를 주세요.",
                                   "A tiktoken encoding has no get_vocab to read; pass a transformers tokenizer "
                                   "or a tokenizers.Tokenizer."))
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    if _is_byte_level(tokenizer):
        pieces = (readable_piece(byte_level_to_bytes(t)) for t, _ in vocab)
    elif _is_byte_fallback(tokenizer):
        pieces = (readable_piece(_fallback_piece_bytes(t)) for t, _ in vocab)
    else:
        pieces = (t for t, _ in vocab)
    return [p for p in pieces if any(is_hangul_syllable(ch) for ch in p)]


# --------------------------------------------------------------------------
# Reading a trained BPE
# --------------------------------------------------------------------------


def bpe_merges(tokenizer) -> list[tuple[str, str]]:
    """The merges of a BPE ``tokenizers.Tokenizer`` (or a transformers one), in the order learned (notebook 01)."""
    import json

    backend = tokenizer if _kind(tokenizer) == "tokenizers" else getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError(bilingual("이 토크나이저에는 병합 규칙을 읽을 tokenizers 백엔드가 없습니다.",
                                   "This tokenizer has no tokenizers backend to read merges from."))
    model = json.loads(backend.to_str())["model"]
    if model.get("type") != "BPE":
        raise ValueError(bilingual(f"병합 규칙은 BPE 토크나이저에만 있습니다. 이 토크나이저는 {model.get('type')}입니다.",
                                   f"Only BPE tokenizers have merges; this one is {model.get('type')}."))
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]


def readable_merges(tokenizer, n: int = 10) -> list[tuple[str, str, str]]:
    """The first ``n`` merges as ``(left, right, merged)`` readable pieces (byte-level BPE, notebook 01)."""
    if n < 0:
        raise ValueError(bilingual("n은 0 이상이어야 합니다.", "n must be 0 or more."))
    rows = []
    for left, right in bpe_merges(tokenizer)[:n]:
        a, b = byte_level_to_bytes(left), byte_level_to_bytes(right)
        rows.append((readable_piece(a), readable_piece(b), readable_piece(a + b)))
    return rows
