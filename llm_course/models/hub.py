"""Hugging Face Hub ids: the only names that touch the network, and how they fail offline within seconds."""

from __future__ import annotations

import contextlib
import os
import threading

from ..i18n import bilingual, josa
from .errors import HubUnavailableError
from .registry import REGISTRY

HUB_TIMEOUT_S = 3.0




def hub_endpoint() -> str:
    """The Hub's address: ``$HF_ENDPOINT`` (a mirror, as many Korean classrooms use), else the Hub client's default.

    The Hub client reads ``HF_ENDPOINT`` once, when it is imported; a mirror set
    later (in a notebook cell, after transformers was imported) is passed on to
    it here, so downloads go where the probe asked.
    """
    from huggingface_hub import constants

    # What the client chose at import, kept so that unsetting HF_ENDPOINT later goes back to it.
    at_import = _ENDPOINT_AT_IMPORT.setdefault("endpoint", constants.ENDPOINT)
    wanted = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or at_import
    if wanted != constants.ENDPOINT:
        constants.ENDPOINT = wanted
        constants.HUGGINGFACE_CO_URL_TEMPLATE = wanted + "/{repo_id}/resolve/{revision}/{filename}"
    return constants.ENDPOINT


_ENDPOINT_AT_IMPORT: dict[str, str] = {}


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> bool:
    """True if the Hub (or the mirror ``HF_ENDPOINT`` names) answers within ``timeout`` seconds.

    Asks with the Hub client's own HTTP session, so proxies and mirrors that
    work for ``from_pretrained`` work here too. An answer counts unless it is a
    redirect or a web page: that is what a captive portal (a hotel's or a
    school's Wi-Fi login) answers, and the Hub's API never does. Honours
    ``HF_HUB_OFFLINE=1``. The request runs in a thread because a name lookup
    on a cut network can hang longer than any timeout the request is given.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False
    url = hub_endpoint() + "/api/models?limit=1"
    result: list[bool] = []

    def probe() -> None:
        try:
            from huggingface_hub.utils import get_session

            try:  # httpx (huggingface_hub 1.0 and later)
                answer = get_session().head(url, timeout=timeout, follow_redirects=False)
            except TypeError:  # requests (earlier releases)
                answer = get_session().head(url, timeout=timeout, allow_redirects=False)
            portal = 300 <= answer.status_code < 400 or "html" in answer.headers.get("content-type", "").lower()
            result.append(not portal)
        except Exception:  # noqa: BLE001 - any failure to get an answer means "not reachable"
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def _hub_error(hub_id: str) -> HubUnavailableError:
    packaged = ", ".join(f"'{n}'" for n in REGISTRY)
    return HubUnavailableError(bilingual(
        f"{josa(repr(hub_id), '은/는')} Hugging Face Hub 모델인데, Hub에 연결할 수 없고(오프라인이거나 HF_HUB_OFFLINE 설정) "
        f"내 컴퓨터의 Hugging Face 캐시에도 없습니다.\n"
        f"인터넷 없이 동작하는 과정의 모델을 쓰세요: {packaged}. 또는 인터넷에 연결하세요(Colab에서는 Hub 모델이 동작합니다).",
        f"'{hub_id}' is a Hugging Face Hub model, but the Hub cannot be reached (offline, or "
        f"HF_HUB_OFFLINE is set) and it is not in your local Hugging Face cache.\n"
        f"Use a packaged model instead, which works offline: {packaged}; or connect to the "
        "internet (on Colab, Hub models work)."))


def _from_hub(loader, hub_id: str, *, is_model: bool = False, **kwargs):
    """Load from the local Hugging Face cache if possible, else from the Hub if it is reachable."""
    local = dict(kwargs, local_files_only=True)
    if is_model:
        # With peft installed, AutoModel*.from_pretrained first looks for an adapter config, and
        # (transformers 5.15-5.23) does not pass local_files_only on to that lookup: offline, it
        # retries the Hub for about 40 s before our probe could say anything.
        local["adapter_kwargs"] = dict(kwargs.get("adapter_kwargs") or {}, local_files_only=True)
    with contextlib.suppress(OSError, ValueError):
        return loader(hub_id, **local)
    if not hub_reachable():
        raise _hub_error(hub_id)
    return loader(hub_id, **kwargs)
