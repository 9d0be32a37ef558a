"""Exercise self-checks that say in plain words what is right or wrong (every notebook).

Korean and English notebooks share identical code cells, so every message is
bilingual: Korean first, English on the next line. A check never raises on a
wrong or missing answer (a notebook must run top to bottom with the exercises
still blank); it prints its verdict and returns a :class:`CheckResult` that
tests and later cells can inspect. A wrong *reference* argument, such as
``seq_len=8192.0``, is the notebook's bug and raises :class:`CheckArgumentError`.

One module per lesson, named after it, in lesson order; ``core`` holds what
they share. The checks of a lesson are named ``<lesson>_<exercise>``
(``setup_`` for 00, ``finetune_`` for 09) and their worked solutions live in
``solutions/``. Every name is re-exported here, so a notebook writes
``from llm_course import checks`` and ``checks.tokenization_paragraph_cost(...)``.
"""

from .core import (FAIL, PASS, TODO, AnswerProblem, CheckArgumentError, CheckResult, as_fraction, as_int_list,
                   as_integer, as_number, as_tensor, as_text, check, not_answered, self_check)
from .setup import setup_model_memory, setup_new_tokens, setup_parameter_count  # 00
from .tokenization import tokenization_beat_cl100k, tokenization_paragraph_cost, tokenization_utf8_bytes  # 01
from .embeddings import embeddings_semantic_search, embeddings_token_similarity  # 02
from .attention import attention_head_by_hand, attention_kv_head, attention_previous_token_head  # 03
from .transformer import _mlp_truth, transformer_mlp_by_hand, transformer_mlp_params, transformer_settled_layer  # 04
from .generation import generation_batched_left_padding, generation_new_text, generation_top_p_count  # 05
from .prompting import prompting_label_words, prompting_negative_shots, prompting_token_count  # 06
from .chat import chat_next_messages, chat_prompt_ids, chat_template_no_default_system  # 07
from .quantization import (quantization_absmax_by_hand, quantization_kv_cache, quantization_model_weights,  # 08
                           quantization_tokens_per_second)
from .finetuning import (finetune_completion_labels, finetune_group_texts, finetune_lora_count,  # 09
                         finetune_perplexity_from_loss, finetune_training_memory)

__all__ = [
    "PASS", "FAIL", "TODO", "CheckResult", "AnswerProblem", "CheckArgumentError", "check", "not_answered",
    "self_check", "as_number", "as_integer", "as_fraction", "as_int_list", "as_tensor", "as_text",
    "setup_parameter_count", "setup_new_tokens", "setup_model_memory",
    "tokenization_paragraph_cost", "tokenization_utf8_bytes", "tokenization_beat_cl100k",
    "embeddings_token_similarity", "embeddings_semantic_search",
    "attention_kv_head", "attention_previous_token_head", "attention_head_by_hand",
    "transformer_mlp_params", "transformer_mlp_by_hand", "transformer_settled_layer",
    "generation_new_text", "generation_top_p_count", "generation_batched_left_padding",
    "prompting_token_count", "prompting_negative_shots", "prompting_label_words",
    "chat_prompt_ids", "chat_next_messages", "chat_template_no_default_system",
    "quantization_model_weights", "quantization_kv_cache", "quantization_tokens_per_second",
    "quantization_absmax_by_hand",
    "finetune_group_texts", "finetune_perplexity_from_loss", "finetune_lora_count", "finetune_completion_labels",
    "finetune_training_memory",
]
# _mlp_truth (04's hook that catches one MLP's input and output) is imported for tests/test_solutions_04.py.
