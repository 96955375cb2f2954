"""The catalog of models the app offers (resources/catalog.json), plus ad-hoc entries.

No torch here: the GUI reads the catalog on its own thread at start-up.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from .errors import InputError, ModelSourceError
from .safe_files import read_json
from .variants import Variant

TASKS = ("classification", "translation", "generation")
SOURCES = ("bundled", "synthetic", "hub", "folder", "endpoint")


@dataclass(frozen=True)
class ModelEntry:
    """One model the user can pick. `ref` is a config stem, hub id or folder path by source."""

    id: str
    name: str
    task: str
    source: str
    ref: str
    params: int | None = None
    license: str = ""
    about: str = ""
    prefix: str = ""  # T5 needs its task in the input ("translate English to German: ")
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def synthetic(self) -> bool:
        return self.source == "synthetic"

    @classmethod
    def from_dict(cls, data: dict) -> "ModelEntry":
        known = {"id", "name", "task", "source", "ref", "params", "license", "about", "prefix"}
        entry = cls(**{k: v for k, v in data.items() if k in known},
                    extra={k: v for k, v in data.items() if k not in known})
        if entry.task not in TASKS or entry.source not in SOURCES:
            raise ModelSourceError(f"Catalog entry {entry.id!r} has an unknown task or source.")
        return entry

    @classmethod
    def for_folder(cls, folder: str | Path, task: str) -> "ModelEntry":
        try:
            folder = Path(folder).expanduser().resolve()
        except RuntimeError as exc:  # "~someone" with no such user: no home directory to expand
            raise InputError(f"{folder} is not a folder: {exc}") from exc
        return cls(id=f"folder/{folder}", name=folder.name or str(folder), task=task,
                   source="folder", ref=str(folder), about=f"Local checkpoint in {folder}")

    @classmethod
    def for_hub(cls, repo_id: str, task: str) -> "ModelEntry":
        repo_id = repo_id.strip()
        if not repo_id or repo_id.count("/") > 1 or any(c.isspace() for c in repo_id):
            raise InputError(f"{repo_id!r} is not a Hugging Face model id (owner/name).")
        return cls(id=f"hub/{repo_id}", name=repo_id, task=task, source="hub", ref=repo_id)


    @classmethod
    def for_endpoint(cls, base_url: str, model: str, key_env: str = "OPENAI_API_KEY", api: str = "chat") -> "ModelEntry":
        """An OpenAI-compatible endpoint (core.endpoint) as a model: text generation, measured remotely.
        Its id and name carry the host and model only; the key stays in its environment variable."""
        from .endpoint import Endpoint

        endpoint = Endpoint(base_url=base_url.strip(), model=model.strip(), key_env=key_env.strip() or "OPENAI_API_KEY",
                            api=api)  # checks the URL (https, or http to a local address)
        return cls(id=f"endpoint/{endpoint.host}/{endpoint.model}", name=f"{endpoint.model} @ {endpoint.host}",
                   task="generation", source="endpoint", ref=endpoint.base_url,
                   about=f"OpenAI-compatible endpoint at {endpoint.host}: measured from this machine, over the network",
                   extra={"model": endpoint.model, "key_env": endpoint.key_env, "api": endpoint.api})


@dataclass(frozen=True)
class LadderMember:
    model: ModelEntry
    variant: Variant


@dataclass(frozen=True)
class Ladder:
    id: str
    name: str
    task: str
    members: tuple[LadderMember, ...]


@dataclass(frozen=True)
class Catalog:
    models: tuple[ModelEntry, ...]
    ladders: tuple[Ladder, ...]

    def get(self, model_id: str) -> ModelEntry:
        for entry in self.models:
            if entry.id == model_id:
                return entry
        raise InputError(f"No model {model_id!r} in the catalog; `sizelab-cli models` lists them.")

    def for_task(self, task: str) -> list[ModelEntry]:
        return [m for m in self.models if m.task == task]

    def ladder(self, ladder_id: str) -> Ladder:
        for ladder in self.ladders:
            if ladder.id == ladder_id:
                return ladder
        raise InputError(f"No ladder {ladder_id!r}; known: {', '.join(l.id for l in self.ladders)}.")


def load_catalog(path: Path | None = None) -> Catalog:
    try:
        path = Path(path or paths.CATALOG)
        data = json.loads(path.read_text(encoding="utf-8"))
        models = tuple(ModelEntry.from_dict(m) for m in data["models"])
        by_id = {m.id: m for m in models}
        ladders = tuple(
            Ladder(id=l["id"], name=l["name"], task=l["task"],
                   members=tuple(LadderMember(by_id[m["model"]], Variant.from_dict(m.get("variant", {})))
                                 for m in l["members"]))
            for l in data.get("ladders", [])
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelSourceError(f"The model catalog {path} cannot be read: {exc}") from exc
    return Catalog(models=models, ladders=ladders)


DEFAULT_MODEL_ID = "bundled/minilm-l6-sentiment"


def known_depth(entry: ModelEntry) -> int | None:
    """Layers of a model read from its config.json without loading it, or None if not at hand."""
    if entry.source == "endpoint":  # a remote model: its architecture is the server's business
        return None
    if isinstance(entry.extra.get("layers"), int):  # a bundled model with no encoder says so itself
        return entry.extra["layers"]
    if entry.source == "synthetic":
        config_path = paths.CONFIGS / f"{entry.ref}.json"
    elif entry.source == "bundled":
        config_path = paths.bundled_encoder_dir() / "config.json"
    elif entry.source == "folder":
        config_path = Path(entry.ref) / "config.json"
    else:
        config_path = _cached_hub_file(entry.ref, "config.json")
    if config_path is None:
        return None
    try:  # a regular file only: a FIFO named config.json froze the window and the CLI here
        config = read_json(config_path, limit=2**20)
    except InputError:
        return None
    if not isinstance(config, dict):
        return None
    depths = [config.get(k) for k in ("num_hidden_layers", "n_layer", "n_layers", "num_layers", "encoder_layers")]
    return next((d for d in depths if isinstance(d, int) and d > 0), None)


def hub_cache_dir() -> Path:
    import os

    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return home / "hub"


def _cached_hub_file(repo_id: str, filename: str) -> Path | None:
    snapshots = hub_cache_dir() / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    for snapshot in sorted(snapshots.glob("*"), reverse=True) if snapshots.is_dir() else []:
        if (snapshot / filename).is_file():
            return snapshot / filename
    return None


def is_cached(entry: ModelEntry) -> bool:
    """True if a hub model's config is in the local Hugging Face cache (usable offline)."""
    return entry.source == "hub" and _cached_hub_file(entry.ref, "config.json") is not None
