"""Loading a model from any source and deriving the chosen variant on the chosen device.

Sources: bundled (offline encoder + trained head), Hugging Face id (cache first, download with
progress when allowed), a local folder, and synthetic (a real architecture with random weights).
Model folders are only read: trust_remote_code is never passed, pickle weights need consent.
"""

import contextlib
import ctypes
import gc
import io
import logging
import stat
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from . import bundled, derive, devices, paths, sentence
from .cancel import CancelToken, Progress, no_progress
from .catalog import ModelEntry
from .errors import (Cancelled, ModelSourceError, OutOfMemoryError, SizeLabError, UnsafeModelError,
                     UnsupportedModelError)
from .measure import MemorySampler, available_bytes, rss_bytes
from .records import ModelKind
from .requests import LoadRequest
from .safe_files import FileRefused, check_readable, open_regular, parse_json, read_json

KINDS = tuple(ModelKind)
WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.spm", "*.tiktoken", "merges.txt"]
PICKLE_PATTERNS = ["pytorch_model*.bin", "*.pt", "*.pth"]
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "source.spm",
                   "sentencepiece.bpe.model", "tokenizer.model")


@dataclass
class ModelInfo:
    """What the model card shows. Parameter counts are taken before int8 packs the weights."""

    params_total: int
    params_non_embedding: int
    weight_bytes: int
    layers: int  # layers kept (deepest stack)
    layers_full: int
    derivation: list[str]
    warnings: list[str]
    origin: str
    load_seconds: float = 0.0
    rss_before_load: int = 0
    rss_after_load: int = 0
    rss_peak_load: int = 0
    max_length: int = 512
    runtime: dict = field(default_factory=dict)  # a converted model's runtime, version, hint, cache (core.runtimes)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class LoadedModel:
    request: LoadRequest
    kind: str
    model: nn.Module
    tokenizer: object
    device: torch.device
    labels: tuple[str, ...]
    info: ModelInfo
    extra: dict = field(default_factory=dict)

    @property
    def entry(self) -> ModelEntry:
        return self.request.entry

    def sync(self) -> None:
        devices.synchronize(self.device)

    def release(self) -> None:
        """Drop the weights for real: references, garbage, then the device cache."""
        self.model = None
        self.tokenizer = None
        release_memory()


def release_memory() -> None:
    """Collect garbage, empty device caches, and hand freed heap back to the OS (glibc keeps it otherwise).

    What survives the collection is long-lived (the libraries, the app), so it is frozen out of later
    collections: a full one walks every object (about 380,000 once torch and transformers are in)
    with the GIL held, 150 ms that froze the window at every load and unload
    (tests/benchmarks/ui_lateness.py). The models we load hold no reference cycles (measured: a
    collection after dropping one finds nothing), so a frozen model is still freed when dropped.
    """
    gc.collect()
    gc.freeze()
    return_freed_heap()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        mps.empty_cache()


def return_freed_heap() -> None:
    """Hand freed heap back to the OS: glibc keeps freed blocks in its arenas (and in RSS) otherwise."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # musl or another libc: nothing to trim
            pass


# ---------------------------------------------------------------- finding the files


def _read_json(path: Path) -> dict:
    try:
        data = read_json(path, f"{path.name} in {path.parent}")
    except FileRefused as exc:  # a FIFO, a device, too big, too deep, not JSON, unreadable
        raise ModelSourceError(str(exc)) from exc
    if not isinstance(data, dict):  # valid JSON, but null, a number or a list where settings belong
        raise ModelSourceError(f"{path.name} in {path.parent} is not a JSON object of settings.")
    return data


# Sizes a config may give (under each family's name): whole numbers of at least 1.
SIZE_FIELDS = ("vocab_size", "hidden_size", "d_model", "n_embd", "dim", "num_hidden_layers", "num_layers",
               "num_decoder_layers", "encoder_layers", "decoder_layers", "n_layer", "n_layers",
               "num_attention_heads", "num_heads", "encoder_attention_heads", "decoder_attention_heads", "n_head",
               "n_heads", "intermediate_size", "d_ff", "d_kv", "encoder_ffn_dim", "decoder_ffn_dim", "hidden_dim",
               "n_inner", "max_position_embeddings", "n_positions")
LAYER_FIELDS = ("num_hidden_layers", "num_layers", "num_decoder_layers", "encoder_layers", "decoder_layers",
                "n_layer", "n_layers")
MAX_LAYERS = 1000  # the deepest published transformers have about 130; 100,000 took minutes to build


def _first(config: dict, *keys, default=0) -> int:
    return next((config[k] for k in keys if isinstance(config.get(k), int)), default)


def estimate_parameters(config: dict) -> int:
    """Parameters a transformer config asks for, from its sizes alone (before anything is allocated).

    Embeddings (vocabulary and positions) plus, per layer, attention (4 h^2) and the feed-forward
    block (2 h x ffn); a decoder layer adds cross-attention (4 h^2). Close enough to refuse a
    memory bomb, not a parameter count to show.
    """
    h = _first(config, "hidden_size", "d_model", "n_embd", "dim", default=768)
    ffn = _first(config, "intermediate_size", "d_ff", "encoder_ffn_dim", "hidden_dim", "n_inner", default=4 * h)
    layers = _first(config, "num_hidden_layers", "num_layers", "encoder_layers", "n_layer", "n_layers", default=12)
    decoder = _first(config, "decoder_layers", "num_decoder_layers")
    positions = _first(config, "max_position_embeddings", "n_positions")
    per_layer = 4 * h * h + 2 * h * ffn
    return (config.get("vocab_size", 0) + positions) * h + layers * per_layer + decoder * (per_layer + 4 * h * h)


def check_config(config: dict, where: str, bytes_per_parameter: int) -> None:
    """Refuse, naming the field, sizes that are not whole numbers of at least 1, and a config that
    would not fit in the memory available now."""
    for key in SIZE_FIELDS:
        if key not in config or config[key] is None:
            continue
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UnsupportedModelError(f"{where}: {key} must be a whole number of at least 1, not {value!r}.")
        if key in LAYER_FIELDS and value > MAX_LAYERS:
            raise UnsupportedModelError(f"{where}: {key} is {value:,}; more than {MAX_LAYERS:,} layers is not a model "
                                        "this app can build.")
    needed = estimate_parameters(config) * bytes_per_parameter
    available = available_bytes()
    if needed > available:
        raise OutOfMemoryError(
            f"for {where}: its sizes ask for about {needed / 2**30:,.1f} GiB of weights and "
            f"{available / 2**30:,.1f} GiB is available; nothing was allocated")


def _check_entries(folder: Path) -> None:
    """Every file transformers might open is a regular file we can read: a FIFO blocks its reader
    forever, a device never ends, and an unreadable file must not read as "not found"."""
    try:
        entries = list(folder.iterdir())
    except OSError as exc:  # mode 000, a folder we may not list
        raise ModelSourceError(f"Cannot read {folder} ({'permission denied' if isinstance(exc, PermissionError) else exc.strerror}).") from exc
    for path in entries:
        try:
            mode = path.stat().st_mode
        except OSError:  # a dangling link: transformers treats it as absent, and so do we
            continue
        if not stat.S_ISDIR(mode):
            try:
                check_readable(path, f"{path.name} in {folder}")
            except FileRefused as exc:
                raise ModelSourceError(str(exc)) from exc


FLOAT_DTYPES = ("F32", "F16", "BF16", "F64")
MAX_SAFETENSORS_HEADER = 100 * 2**20  # the format's own limit


def check_safetensors_dtypes(path: Path) -> None:
    """Refuse weights stored as integers where the model has floating-point parameters.

    transformers casts an int32 tensor to float without a word, so an int32 checkpoint loads as
    garbage. Only the header is read (8 bytes of length, then JSON). Integer buffers such as
    position_ids are allowed: only *.weight and *.bias must be floating point.
    """
    name = f"{path.name} in {path.parent}"
    try:
        with open_regular(path, name) as handle:
            head = handle.read(8)
            size = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            if not 0 < size <= MAX_SAFETENSORS_HEADER:
                return  # not a safetensors file: the loader says so in its own words
            header = parse_json(handle.read(size), name, max_depth=4)
    except FileRefused as exc:
        raise ModelSourceError(str(exc)) from exc
    if not isinstance(header, dict):
        return
    for key, tensor in header.items():
        dtype = tensor.get("dtype") if isinstance(tensor, dict) else None
        if key.endswith((".weight", ".bias")) and isinstance(dtype, str) and dtype not in FLOAT_DTYPES:
            raise UnsupportedModelError(
                f"{name} stores {key} as {dtype}; the model needs floating-point weights ({', '.join(FLOAT_DTYPES)}).")


class LibraryOutput:
    """What transformers logs while it works (a load report can be 20 lines), kept instead of printed:
    an error stays one line, and the CLI's --verbose prints this text in full."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    @contextlib.contextmanager
    def capture(self):
        from transformers.utils import logging as hf_logging

        handler = logging.StreamHandler(self.buffer)
        hf_logging.disable_default_handler()
        hf_logging.add_handler(handler)
        try:
            yield self
        except SizeLabError as exc:
            exc.details = self.text
            raise
        finally:
            hf_logging.remove_handler(handler)
            hf_logging.enable_default_handler()

    @property
    def text(self) -> str:
        return self.buffer.getvalue()


def check_folder(folder: Path, allow_pickle: bool) -> bool:
    """Validate a checkpoint folder before transformers sees it. Returns True if it has safetensors."""
    try:
        is_folder = folder.is_dir()
    except OSError as exc:  # a name too long for the file system, a loop of links: not a folder we can read
        raise ModelSourceError(f"{folder} cannot be read: {exc.strerror}.") from exc
    if not is_folder:
        raise ModelSourceError(f"{folder} is not a folder.")
    _check_entries(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelSourceError(f"{folder} is not a transformers checkpoint: it has no config.json.")
    config = _read_json(config_path)
    for path in folder.glob("*.json"):  # the ones the Python side of transformers parses: bounded depth
        if path.name != "config.json" and path.is_file():
            try:
                read_json(path, f"{path.name} in {folder}")
            except FileRefused as exc:
                raise ModelSourceError(str(exc)) from exc
    tokenizer_config = folder / "tokenizer_config.json"
    remote = "auto_map" in config or (tokenizer_config.is_file() and "auto_map" in _read_json(tokenizer_config))
    if remote:
        raise UnsafeModelError(
            f"{folder.name} asks to run its own Python code (auto_map). Model Size Lab never runs code "
            "from a model folder; use a checkpoint of an architecture built into transformers.")
    if any(folder.glob("*.safetensors")):
        return True
    if any(folder.glob(p) for p in PICKLE_PATTERNS if any(folder.glob(p))):
        if not allow_pickle:
            raise UnsafeModelError(
                f"{folder.name} has only pickle weights (pytorch_model.bin). Unpickling can run code; "
                "allow pickle checkpoints to load them with torch.load(weights_only=True).")
        return False
    raise ModelSourceError(f"{folder} has a config.json but no weights (*.safetensors or pytorch_model.bin).")


class _CancellableTqdm:
    """A tqdm stand-in for huggingface_hub that reports progress and raises on cancel."""

    progress: Progress = staticmethod(no_progress)
    cancel: CancelToken | None = None

    def __init__(self, *args, total=None, desc=None, **kwargs):
        self.total, self.n, self.desc = total, 0, desc or "downloading"

    def update(self, n=1):
        self.n += n or 0
        if self.cancel is not None:
            self.cancel.check()
        fraction = self.n / self.total if self.total else None
        self.progress(fraction, f"Downloading {self.desc}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass

    def set_description(self, desc=None, refresh=True):
        self.desc = desc or self.desc

    def refresh(self):
        pass

    @classmethod
    def get_lock(cls):
        import threading
        return threading.RLock()

    @classmethod
    def set_lock(cls, lock):
        pass


def hub_folder(repo_id: str, allow_download: bool, allow_pickle: bool,
               cancel: CancelToken, progress: Progress) -> Path:
    """A local folder for a hub id: the HF cache first, then a download if allowed and online."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub import errors as hub_errors

    patterns = WEIGHT_PATTERNS + (PICKLE_PATTERNS if allow_pickle else [])
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    except (hub_errors.LocalEntryNotFoundError, FileNotFoundError, hub_errors.HFValidationError) as exc:
        if isinstance(exc, hub_errors.HFValidationError):
            raise ModelSourceError(f"{repo_id!r} is not a valid Hugging Face model id.") from exc
    if constants.HF_HUB_OFFLINE or not allow_download:
        raise ModelSourceError(
            f"{repo_id} is not in the local Hugging Face cache, and downloads are off "
            "(HF_HUB_OFFLINE is set or downloading was not allowed).")
    progress(None, f"Downloading {repo_id}")
    tqdm = type("Tqdm", (_CancellableTqdm,), {"progress": staticmethod(progress), "cancel": cancel})
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, tqdm_class=tqdm))
    except Cancelled:
        raise
    except hub_errors.RepositoryNotFoundError as exc:
        raise ModelSourceError(f"No model {repo_id} on the Hugging Face hub (or it is private).") from exc
    except hub_errors.GatedRepoError as exc:
        raise ModelSourceError(f"{repo_id} is gated: accept its license on the hub and log in first.") from exc
    except Exception as exc:  # network errors come in many types (httpx, OSError, hub errors)
        raise ModelSourceError(
            f"Could not download {repo_id}: the hub is unreachable from here ({type(exc).__name__}). "
            "Connect to the network, or copy the model into the Hugging Face cache.") from exc


# ---------------------------------------------------------------- building the model


def _bundled_tokenizer():
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(paths.bundled_encoder_dir())


def _synthetic_config(ref: str, layers: int | None, keep_last: bool = False):
    from transformers import AutoConfig

    path = paths.CONFIGS / f"{ref}.json"
    if not path.is_file():
        raise ModelSourceError(f"No architecture config {path.name} in {paths.CONFIGS}.")
    data = _read_json(path)
    config = AutoConfig.for_model(data.pop("model_type"), **data)
    if layers is not None:
        for key in derive.LAYER_CONFIG_KEYS:
            full = getattr(config, key, None)
            if isinstance(full, int) and layers > full:
                raise UnsupportedModelError(f"{ref} has {full} layers; cannot keep {layers}.")
        full = max(getattr(config, k) for k in derive.LAYER_CONFIG_KEYS if isinstance(getattr(config, k, None), int))
        derive.shorten_config(config, derive.kept_indices(full, layers, keep_last))
    return config


def _auto_class(task: str, config):
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification
    from transformers.models.auto.modeling_auto import (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                                        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
                                                        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES)

    model_type = getattr(config, "model_type", "?")
    if task == "generation":
        if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or getattr(config, "is_encoder_decoder", False):
            raise UnsupportedModelError(
                f"A {model_type} model cannot generate text here; use a causal LM (GPT-2, Pythia, Llama, Qwen2).")
        return ModelKind.CAUSAL_LM, AutoModelForCausalLM
    if task == "classification":
        if model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
            raise UnsupportedModelError(f"A {model_type} model cannot do text classification.")
        return ModelKind.SEQUENCE_CLASSIFICATION, AutoModelForSequenceClassification
    if model_type not in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES or not getattr(config, "is_encoder_decoder", False):
        raise UnsupportedModelError(
            f"A {model_type} model cannot translate here; use an encoder-decoder such as Marian (opus-mt) or T5.")
    return ModelKind.SEQ2SEQ, AutoModelForSeq2SeqLM


def _check_memory(kind: str, config, request: LoadRequest) -> list[str]:
    """Causal LMs: refuse, before any weight is read, a variant that cannot fit in free RAM."""
    if kind != ModelKind.CAUSAL_LM:
        return []
    from . import generation

    return generation.check_memory(generation.estimate_memory(config, request.variant), request.device)


def _from_folder(folder: Path, request: LoadRequest, progress: Progress):
    """(kind, model, tokenizer, warnings) from a checkpoint folder; never runs its code."""
    has_safetensors = check_folder(folder, request.allow_pickle)
    torch_fp32 = request.variant.int8 or request.variant.runtime != "torch"  # other runtimes convert from fp32
    dtype = torch.float32 if torch_fp32 else derive.DTYPES[request.variant.precision]
    check_config(_read_json(folder / "config.json"), f"{folder.name}/config.json", dtype.itemsize)
    for weights in folder.glob("*.safetensors"):
        check_safetensors_dtypes(weights)
    with LibraryOutput().capture():
        return _from_checked_folder(folder, request, progress, has_safetensors, dtype)


def _from_checked_folder(folder: Path, request: LoadRequest, progress: Progress, has_safetensors: bool, dtype):
    from transformers import AutoConfig, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(folder)
    except Exception as exc:  # ValueError, KeyError, OSError, huggingface_hub's StrictDataclassError (a field's type)
        raise UnsupportedModelError(f"transformers does not know this architecture: {exc}") from exc
    kind, auto = _auto_class(request.entry.task, config)
    memory_warnings = _check_memory(kind, config, request)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ModelSourceError(f"{folder.name} has no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}, …).")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except Exception as exc:  # transformers raises OSError, ValueError or TypeError for missing files
        raise ModelSourceError(f"{folder.name} has no usable tokenizer: {exc}") from exc
    if len(tokenizer) < 3:
        raise ModelSourceError(f"The tokenizer in {folder.name} has an empty vocabulary.")
    try:  # a damaged vocabulary can load and fail only at the first request (WordPiece: "Missing [UNK]")
        tokenizer("Model Size Lab")
    except Exception as exc:  # the tokenizers library raises a bare Exception here
        raise ModelSourceError(f"The tokenizer in {folder.name} cannot encode text (damaged?): {exc}") from exc
    progress(None, "Reading weights")
    try:
        model, loading_info = auto.from_pretrained(
            folder, config=config, dtype=dtype, use_safetensors=has_safetensors, output_loading_info=True)
    except (torch.OutOfMemoryError, MemoryError):
        raise
    except Exception as exc:  # safetensors, torch and transformers each raise their own types here
        raise ModelSourceError(f"The weights in {folder.name} cannot be read (damaged or incomplete?): {exc}") from exc
    warnings = memory_warnings
    if not has_safetensors:
        warnings.append("Loaded from pickle weights with weights_only=True, as you allowed.")
    missing = loading_info.get("missing_keys") or []
    if missing:
        warnings.append(f"{len(missing)} weights were missing and randomly initialised "
                        f"(e.g. {sorted(missing)[0]}): outputs of those parts are meaningless.")
    return kind, model, tokenizer, warnings


def preflight(request: LoadRequest, cancel: CancelToken, progress: Progress = no_progress) -> None:
    """The checks a load can make before the loaded model has to go, raising what load_model would.

    The engine runs them first, so that the usual failures (an unreachable hub, a bad id, a folder
    that is no checkpoint, an architecture that cannot do the task, a runtime not installed) leave
    the working model loaded. Nothing large is allocated: no weights are read, and the memory check
    waits for load_model, when the old model's memory is free.
    """
    variant, entry = request.variant, request.entry
    devices.check_supported(request.device, variant)
    if variant.runtime != "torch":
        from .runtimes import require
        require(variant.runtime, variant.int8, device=request.device)
    if entry.source == "synthetic":
        _auto_class(entry.task, _synthetic_config(entry.ref, variant.layers, variant.keep_last))
    elif entry.source in ("hub", "folder"):
        from transformers import AutoConfig

        folder = (hub_folder(entry.ref, request.allow_download, request.allow_pickle, cancel, progress)
                  if entry.source == "hub" else Path(entry.ref))
        cancel.check()
        check_folder(folder, request.allow_pickle)
        try:
            config = AutoConfig.from_pretrained(folder)
        except Exception as exc:  # as in _from_checked_folder
            raise UnsupportedModelError(f"transformers does not know this architecture: {exc}") from exc
        _auto_class(entry.task, config)
    cancel.check()


def _build(request: LoadRequest, cancel: CancelToken, progress: Progress):
    """(kind, model in fp32 or the target dtype, tokenizer, labels, origin, warnings) for any source."""
    entry, variant = request.entry, request.variant
    if entry.source == "bundled":
        progress(None, "Reading the bundled model and its trained weights")
        model = bundled.build(entry.ref, variant.layers)
        return (ModelKind.SENTENCE, model, _bundled_tokenizer(), sentence.LABELS, bundled.origin(entry.ref), [],
                bundled.full_depth(entry.ref))
    if entry.source == "synthetic":
        full = _synthetic_depth(entry.ref)
        config = _synthetic_config(entry.ref, variant.layers, variant.keep_last)
        kind, auto = _auto_class(entry.task, config)
        memory_warnings = _check_memory(kind, config, request)
        progress(None, "Building the architecture with random weights")
        torch.manual_seed(0)  # the same random weights every time: reproducible timings
        model = auto.from_config(config)
        labels = tuple(config.id2label[i] for i in sorted(config.id2label)) if kind == ModelKind.SEQUENCE_CLASSIFICATION else ()
        return (kind, model, _bundled_tokenizer(), labels, f"{entry.ref}.json (random weights)",
                ["Synthetic model: real architecture with random weights. Latency and memory are real; "
                 "its outputs are meaningless."] + memory_warnings, full)
    if entry.source == "hub":
        folder = hub_folder(entry.ref, request.allow_download, request.allow_pickle, cancel, progress)
    elif entry.source == "folder":
        folder = Path(entry.ref)
    else:
        raise ModelSourceError(f"Unknown model source {entry.source!r}.")
    cancel.check()
    kind, model, tokenizer, warnings = _from_folder(folder, request, progress)
    labels = ()
    if kind == ModelKind.SEQUENCE_CLASSIFICATION:
        id2label = getattr(model.config, "id2label", {}) or {}
        labels = tuple(str(id2label.get(i, f"LABEL_{i}")) for i in range(model.config.num_labels))
    full = derive.depth(model)
    if variant.layers is not None:
        derive.keep_bottom_layers(model, variant.layers, variant.keep_last)
    return kind, model, tokenizer, labels, str(folder), warnings, full


def _max_length(model: nn.Module, tokenizer, kind: str = "") -> int:
    if kind == ModelKind.CAUSAL_LM:  # its positions; a synthetic model's tokenizer is a stand-in with its own limit
        from .generation import context_limit
        return context_limit(model.config)
    limits = [getattr(tokenizer, "model_max_length", None)]
    config = getattr(model, "config", None)
    for key in ("max_position_embeddings", "n_positions"):
        limits.append(getattr(config, key, None))
    usable = [int(v) for v in limits if isinstance(v, int) and 0 < v < 100_000]
    return min(usable) if usable else 512


def load_model(request: LoadRequest, cancel: CancelToken | None = None,
               progress: Progress = no_progress) -> LoadedModel:
    """Load and derive one variant. Cancellable between steps; the partial model is released."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # progress goes through our callback, not tqdm on stderr
    cancel = cancel or CancelToken()
    variant = request.variant
    devices.check_supported(request.device, variant)
    if variant.runtime != "torch":  # before any work: a runtime that is not installed is one clear line
        from .runtimes import require
        require(variant.runtime, variant.int8, device=request.device)
    device_info = devices.find_device(request.device)
    device = torch.device(request.device)
    devices.set_threads(request.threads)
    release_memory()
    rss_before = rss_bytes()
    started = time.perf_counter()
    model = None
    if variant.runtime != "torch":  # a row converted before loads from its file, with no torch model built
        from .runtimes.convert import load_cached
        cached = load_cached(request, progress, rss_before, started, device_info)
        if cached is not None:
            return cached
    try:
        with MemorySampler() as sampler:
            progress(0.05, f"Loading {request.entry.name}")
            kind, model, tokenizer, labels, origin, warnings, layers_full = _build(request, cancel, progress)
            cancel.check()
            derivation = [f"from {request.entry.source}: {origin}"]
            if variant.layers is not None and variant.layers < layers_full:
                derivation.append(f"kept the bottom {variant.layers - 1} and the last of {layers_full} layers"
                                  if variant.keep_last else f"kept the bottom {variant.layers} of {layers_full} layers")
            params_total, params_non_embedding = derive.count_parameters(model)
            layers_kept = derive.depth(model)
            model.eval()
            dtype = derive.DTYPES[variant.precision]
            if variant.runtime != "torch":  # another runtime runs a converted copy of the fp32 model
                from .runtimes.convert import convert
                card = {"kind": kind, "labels": list(labels), "layers_full": layers_full, "origin": origin,
                        "params_total": params_total, "params_non_embedding": params_non_embedding,
                        "warnings": list(warnings)}  # kept with the file: the next load builds no torch model
                model = convert(model, kind, tokenizer, request, origin, _max_length(model, tokenizer, kind),
                                derivation, cancel, progress, card)
            elif next(model.parameters()).dtype != dtype:
                progress(0.7, f"Casting to {variant.precision}")
                model.to(dtype)
            if variant.precision != "fp32" and variant.runtime == "torch":
                derivation.append(f"cast to {variant.precision}")
            cancel.check()
            if variant.int8 and variant.runtime == "torch":
                progress(0.8, "Quantizing Linear layers to int8" + (" per channel" if variant.per_channel else ""))
                model = derive.quantize_int8(model, per_channel=variant.per_channel)
                derivation.append("dynamic int8 quantization of Linear layers (torch.ao); "
                                  + derive.int8_report(model))
            cancel.check()
            if device.type != "cpu":
                progress(0.9, f"Moving to {request.device}")
                model.to(device)
            rss_peak = sampler.peak
        # What making the variant freed (the fp32 weights int8 replaced, the layers dropped, file
        # buffers) goes back to the OS, so RSS from here on counts the variant, not its making:
        # measured in the Compare view, an int8 row read 43% above fp32 without this, 28% with it.
        return_freed_heap()
        info = ModelInfo(
            params_total=params_total, params_non_embedding=params_non_embedding,
            weight_bytes=getattr(model, "file_bytes", None) or derive.weight_bytes(model), layers=layers_kept,
            layers_full=layers_full, derivation=derivation,
            warnings=warnings + devices.advise(device_info, variant), origin=origin,
            load_seconds=time.perf_counter() - started, rss_before_load=rss_before,
            rss_after_load=rss_bytes(), rss_peak_load=rss_peak, max_length=_max_length(model, tokenizer, kind),
            runtime=getattr(model, "conversion", {}))
        if request.entry.source == "bundled":  # set here, so that a converted runtime copy calibrates alike
            model.temperatures = bundled.temperatures(bundled.folder_of(request.entry.ref),
                                                      variant.layers or bundled.full_depth(request.entry.ref))
        progress(1.0, "Loaded")
        return LoadedModel(request=request, kind=kind, model=model, tokenizer=tokenizer, device=device,
                           labels=tuple(labels), info=info)
    except torch.OutOfMemoryError as exc:
        model = None
        release_memory()
        raise OutOfMemoryError(f"loading {request.entry.name} on {request.device}") from exc
    except MemoryError as exc:
        model = None
        release_memory()
        raise OutOfMemoryError(f"loading {request.entry.name}") from exc
    except SizeLabError:
        model = None
        release_memory()
        raise


def _synthetic_depth(ref: str) -> int:
    config = _synthetic_config(ref, None)
    return max(getattr(config, k, 0) or 0 for k in derive.LAYER_CONFIG_KEYS if isinstance(getattr(config, k, 0), int))
