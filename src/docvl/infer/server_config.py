"""Which config a served model was trained with, asked of the server, so clients render and prompt as it expects.

Our own server answers `GET {base_url}/docvl/config` with `{"checkpoint": "<abs path>", "config": {...}}`
(`config_payload`). vLLM has no such route: when the model id it serves is a local checkpoint folder with a
`docvl.yaml` (vLLM names a model by the path it was given), that file is the config. Otherwise nothing is
known, and the caller says so in one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docvl.runconfig import Warn, resolve_run_config, saved_config_path

if TYPE_CHECKING:
    from docvl.config import DocvlConfig

CONFIG_ROUTE = "/docvl/config"
ASK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ServedConfig:
    """What a server told about its model: a local checkpoint folder and/or its resolved config (or neither)."""

    checkpoint: str | None = None
    config: dict[str, Any] | None = None
    source: str = ""
    reachable: bool = True


def config_payload(checkpoint: str | Path, config: DocvlConfig) -> dict[str, Any]:
    """The body of our server's `GET /v1/docvl/config`."""
    path = Path(str(checkpoint)).expanduser()
    return {
        "checkpoint": str(path.resolve()) if path.is_dir() else str(checkpoint),
        "config": config.model_dump(mode="json"),
    }


def _get_json(client: Any, url: str) -> Any:
    """The JSON answer to GET `url`, or None for any other answer; httpx.TransportError when none came."""
    response = client.get(url)
    try:
        return response.json() if response.status_code == 200 else None
    except ValueError:
        return None


def fetch_served_config(base_url: str, *, model: str | None = None, api_key: str | None = None) -> ServedConfig:
    """Ask the server at `base_url` (ending in /v1) which config its model carries; never raises (a server
    that cannot be reached is reported by the engine that talks to it next)."""
    import httpx

    from docvl.infer.http_client import normalize_base_url

    base_url = normalize_base_url(base_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(headers=headers, timeout=ASK_TIMEOUT_S) as client:
        try:
            answer = _get_json(client, base_url + CONFIG_ROUTE)
        except httpx.TransportError:
            return ServedConfig(reachable=False)
        if isinstance(answer, dict) and isinstance(answer.get("config"), dict):
            return ServedConfig(answer.get("checkpoint"), answer["config"], base_url + CONFIG_ROUTE)
        if model is None:
            try:
                model = str(_get_json(client, base_url + "/models")["data"][0]["id"])
            except (httpx.TransportError, TypeError, KeyError, IndexError):
                return ServedConfig()
    if saved_config_path(model) is not None:
        return ServedConfig(model, None, f"served model {model}")
    return ServedConfig()


def config_for_server(
    server: str,
    *,
    model: str | None,
    config_file: str | Path | None,
    overrides: list[str],
    api_key: str | None = None,
    warn: Warn,
) -> DocvlConfig:
    """The run config for a client of `server`: the checkpoint `model` names when it is a local folder, else
    the one the server reports (`fetch_served_config`); `--config` and overrides on top (`resolve_run_config`)."""
    if saved_config_path(model) is not None:
        return resolve_run_config(model, config_file, overrides, warn=warn)
    served = fetch_served_config(server, model=model, api_key=api_key or os.environ.get("DOCVL_API_KEY"))
    if served.reachable and served.checkpoint is None and served.config is None:
        warn(
            f"{server} reports no checkpoint config: pages are rendered and prompted with "
            f"{config_file or 'the defaults'} (give --model CHECKPOINT or --config its docvl.yaml)"
        )
    return resolve_run_config(
        served.checkpoint, config_file, overrides, served=served.config, served_from=served.source, warn=warn
    )
