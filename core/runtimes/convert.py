"""Converting a torch encoder classifier to ONNX Runtime or OpenVINO, and running the result.

Runs in the engine process (core.loading calls `convert` on the fp32 torch model it built, layers
already dropped and the bundled adapter merged), with the load's threads, progress and Cancel.
The whole classifier is converted, pooling and head included, so a runtime row returns the same
logits as the torch row (up to numerical noise; tests/core/test_runtimes.py checks it).

Recipes (verified with torch 2.13, onnxruntime 1.32, openvino 2026.4, nncf 3.4):
- ONNX Runtime: the TorchScript exporter (`dynamo=False`) with eager attention: an SDPA export is
  not fused. Then onnxruntime.transformers' optimizer (model_type "bert", with the heads and hidden
  size given: it fails to detect them in this graph and fuses no Attention otherwise). int8:
  quant_pre_process, then quantize_dynamic with QInt8 per-channel weights.
- OpenVINO: convert_model from the torch module itself. Its CPU plugin picks bf16 by default where
  the CPU has it, so every row sets its precision hint (f32 for fp32 and int8) and reports the one
  in force. int8: NNCF post-training quantization calibrated on the shipped sentiment texts.
"""

import contextlib
import inspect
import io
import json
import logging
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from .. import derive, paths
from ..cancel import CancelToken, Progress
from ..errors import SizeLabError, UnsupportedModelError
from . import SPECS, cache, require, version, versions

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
CALIBRATION_TEXTS = 100  # the measurement used about 100; more changed nothing there
OPSET = 17
ORT_QUANTIZED_OPS = ("QAttention", "MatMulInteger", "QEmbedLayerNormalization", "QGemm", "DynamicQuantizeMatMul")


class RuntimeClassifier(nn.Module):
    """A converted classifier called like the torch one: tensors in, a logits tensor out.

    `config` is the torch model's (the maximum length is read from it); `conversion` is what the
    model card and reports show; it holds no torch weights, its model file is `file_bytes` long.
    """

    def __init__(self, run, input_names: tuple[str, ...], config, conversion: dict, file_bytes: int):
        super().__init__()
        self._run = run
        self.input_names = input_names
        self.config = config
        self.conversion = conversion
        self.file_bytes = file_bytes

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, **_ignored) -> torch.Tensor:
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        feed = {}
        for name in self.input_names:
            value = given[name]
            if value is None:  # a graph with segment ids, called without them: all one segment
                value = torch.zeros_like(input_ids) if name == "token_type_ids" else torch.ones_like(input_ids)
            feed[name] = value.detach().cpu().numpy().astype(np.int64, copy=False)
        return torch.from_numpy(self._run(feed))


class _Logits(nn.Module):
    """The classifier with named tensor inputs and the logits tensor as its one output."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        output = self.model(**{name: given[name] for name in self.names})
        return output if isinstance(output, torch.Tensor) else output.logits


def input_names(model: nn.Module, tokenizer) -> tuple[str, ...]:
    """The inputs the graph takes: those the tokenizer makes and the model's forward accepts."""
    accepted = inspect.signature(model.forward).parameters
    made = getattr(tokenizer, "model_input_names", INPUT_NAMES)
    names = tuple(n for n in INPUT_NAMES if n in accepted and n in made)
    if names[:2] != ("input_ids", "attention_mask"):
        raise UnsupportedModelError(f"{type(model).__name__} does not take input_ids and attention_mask.")
    return names


def _example(tokenizer, names) -> dict[str, torch.Tensor]:
    encoded = tokenizer(["A short sentence.", "A longer sentence, padded to the length of the first one or more."],
                        padding=True, return_tensors="pt")
    return {n: encoded[n] if n in encoded else torch.zeros_like(encoded["input_ids"]) for n in names}


def _calibration(tokenizer, names, max_length: int) -> list[dict[str, np.ndarray]]:
    """Up to CALIBRATION_TEXTS real texts, one per input (their own lengths, no padding)."""
    path = paths.SENTIMENT_DATA / "train.jsonl"
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    samples = []
    for text in texts[:CALIBRATION_TEXTS]:
        encoded = tokenizer(text, truncation=True, max_length=max_length, return_tensors="np")
        samples.append({n: encoded[n].astype(np.int64) if n in encoded else np.zeros_like(encoded["input_ids"])
                        for n in names})
    return samples


def _dimensions(config) -> tuple[int, int]:
    """(attention heads, hidden size) for the ORT optimizer: BERT and DistilBERT spell them apart."""
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", None) or 0
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", None) or 0
    return int(heads), int(hidden)


def _counts(names) -> str:
    return ", ".join(f"{name} x{count}" for name, count in names.items()) or "nothing"


# ---------------------------------------------------------------- ONNX Runtime


def _eager_attention(model: nn.Module) -> None:
    """Switch the transformers model inside to eager attention (the exporter's SDPA is not fused)."""
    for module in model.modules():
        if hasattr(module, "set_attn_implementation") and hasattr(module, "config"):
            module.set_attn_implementation("eager")
            return


def _ort_convert(model, names, example, folder: Path, variant, tokenizer, max_length, cancel: CancelToken,
                 progress: Progress) -> tuple[list[str], list[str]]:
    import onnx
    from onnxruntime.transformers import optimizer

    exported, optimized, final = folder / "exported.onnx", folder / "optimized.onnx", folder / "model.onnx"
    progress(0.3, "Exporting to ONNX (TorchScript exporter, eager attention)")
    _eager_attention(model)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and exporter notes: the result is checked, not them
        torch.onnx.export(_Logits(model, names), tuple(example[n] for n in names), str(exported), dynamo=False,
                          input_names=list(names), output_names=["logits"], opset_version=OPSET,
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}})
    cancel.check()
    progress(0.5, "Fusing transformer operators (onnxruntime.transformers, model_type bert)")
    heads, hidden = _dimensions(model.config)
    with _quiet():
        fused = optimizer.optimize_model(str(exported), model_type="bert", num_heads=heads, hidden_size=hidden)
    statistics = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
    fused.save_model_to_file(str(optimized))
    exported.unlink()
    report = [f"exported with the TorchScript exporter (opset {OPSET}, eager attention); "
              f"fused by onnxruntime.transformers: {_counts(statistics)}"]
    cancel.check()
    if not variant.int8:
        optimized.rename(final)
        return ["model.onnx"], report
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    progress(0.65, "Preparing for int8 (quant_pre_process)")
    prepared = folder / "prepared.onnx"
    # When its symbolic shape inference comes out incomplete, onnxruntime saves a debug model (90 MB
    # here) as sym_shape_infer_temp.onnx in the working directory: let that land in the staging folder.
    with _quiet(), contextlib.chdir(folder):
        quant_pre_process(str(optimized.resolve()), str(prepared.resolve()))
    cancel.check()
    progress(0.8, "Quantizing to int8 (QInt8 weights, per-channel)")
    with _quiet():
        quantize_dynamic(str(prepared), str(final), per_channel=True, weight_type=QuantType.QInt8)
    optimized.unlink()
    prepared.unlink()
    ops = Counter(node.op_type for node in onnx.load(str(final), load_external_data=False).graph.node)
    report.append("int8 by quantize_dynamic (QInt8 weights per channel, activations per batch): "
                  + _counts({op: ops[op] for op in ORT_QUANTIZED_OPS if ops[op]}))
    return ["model.onnx"], report


def _ort_session(folder: Path, variant, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings go to stderr, past our reports
    session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    output = [session.get_outputs()[0].name]

    def run(feed):
        return session.run(output, feed)[0]

    return run, None, None


# ---------------------------------------------------------------- OpenVINO


def _ov_convert(model, names, example, folder: Path, variant, tokenizer, max_length, cancel: CancelToken,
                progress: Progress) -> tuple[list[str], list[str]]:
    import openvino as ov

    progress(0.3, "Converting the torch module (openvino.convert_model)")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes, as for the ONNX export
        ov_model = ov.convert_model(_Logits(model, names), example_input={n: example[n] for n in names})
    report = [f"converted from the torch module by openvino.convert_model ({len(ov_model.get_ops())} operations)"]
    cancel.check()
    if variant.int8:
        import nncf

        samples = _calibration(tokenizer, names, max_length)
        seen = [0]

        def feed(sample):  # NNCF passes over the texts more than once; Cancel is checked at each
            cancel.check()
            seen[0] += 1
            progress(None, f"Calibrating int8 with NNCF: pass over {len(samples)} texts, input {seen[0]}")
            return sample

        with _quiet():
            nncf.set_log_level(logging.ERROR)
            ov_model = nncf.quantize(ov_model, nncf.Dataset(samples, feed), model_type=nncf.ModelType.TRANSFORMER,
                                     subset_size=len(samples))
        ops = Counter(op.get_type_name() for op in ov_model.get_ops())
        report.append(f"int8 by NNCF post-training quantization ({len(samples)} calibration texts, transformer "
                      f"preset): {ops['FakeQuantize']} FakeQuantize on {ops['MatMul']} MatMul")
    cancel.check()
    progress(0.8, "Saving the OpenVINO model")
    ov.save_model(ov_model, str(folder / "model.xml"), compress_to_fp16=False)  # fp16 storage would change fp32 rows
    return ["model.xml", "model.bin"], report


def _ov_session(folder: Path, variant, threads: int):
    import openvino as ov

    hint = "bf16" if variant.precision == "bf16" else "f32"
    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(folder / "model.xml")), "CPU", {
        "INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"})
    in_force = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    request = compiled.create_infer_request()

    def run(feed):
        return np.array(request.infer(feed)[0], copy=True)  # the request reuses its output buffer

    return run, hint, in_force


CONVERTERS = {"onnxruntime": (_ort_convert, _ort_session), "openvino": (_ov_convert, _ov_session)}


@contextlib.contextmanager
def _quiet():
    """The converters print progress bars and notes on stdout (NNCF's rich bars, the ORT optimizer):
    keep them off stdout, where `sizelab-cli run --json` writes its records."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def block_telemetry() -> None:
    """Keep OpenVINO's and NNCF's usage telemetry off: the app sends nothing anywhere.

    openvino.convert_model and nncf.quantize send usage events (Google Analytics) unless the user
    opted out or they run in CI (openvino_telemetry: no consent file counts as consent for them).
    Each imports openvino_telemetry in a try/except ImportError and falls back to a stub, so an
    import that fails turns both off, for this process only and without touching the user's files.
    """
    if "openvino_telemetry" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # `import openvino_telemetry` now raises ImportError


# ---------------------------------------------------------------- the entry point


def _source_parts(entry, origin: str | None) -> dict:
    """What identifies the weights a conversion was made from (origin: the checkpoint's folder)."""
    if entry.source == "bundled":
        from ..sentence import trained_dir
        return {"files": [cache.files_fingerprint(paths.bundled_encoder_dir()),
                          cache.files_fingerprint(trained_dir())]}
    if entry.source == "synthetic":
        return {"config": (paths.CONFIGS / f"{entry.ref}.json").read_text(encoding="utf-8")}
    return {"files": [cache.files_fingerprint(Path(origin))] if origin else None}


def _locate(request, origin: str | None, depth: int) -> tuple[Path, str]:
    """(cache folder, file label) of a runtime row whose torch model keeps `depth` layers."""
    import transformers

    entry, variant = request.entry, request.variant
    parts = {"model": entry.id, "source": entry.source, "ref": entry.ref, "depth": depth,
             "keep_last": variant.keep_last, "int8": variant.int8, "runtime": variant.runtime, "versions": versions(),
             "torch": torch.__version__, "transformers": transformers.__version__} | _source_parts(entry, origin)
    if variant.int8 and variant.runtime == "openvino":
        parts["calibration"] = CALIBRATION_TEXTS
    # The file is the same for fp32 and bf16 OpenVINO rows (the hint is applied when compiling).
    label = (f"{variant.label().split()[0]} {'int8' if variant.int8 else 'fp32'} L{depth}"
             + ("+last" if variant.keep_last else ""))
    return cache.entry_dir(f"{entry.id.split('/', 1)[-1]}-{label}", cache.key(parts)), label


def _start(found: cache.CacheEntry, variant, names, config, reused: str, derivation: list[str]) -> RuntimeClassifier:
    """The runtime's session on a cached file, and the lines the model card shows about it."""
    spec = SPECS[variant.runtime]
    run, hint, in_force = CONVERTERS[variant.runtime][1](found.path, variant, torch.get_num_threads())
    file_bytes = sum((found.path / name).stat().st_size for name in found.meta["files"])
    conversion = {
        "runtime": variant.runtime, "title": spec.title, "version": version(variant.runtime),
        "quantization": spec.int8_method if variant.int8 else None,
        "precision_hint": hint, "precision_in_force": in_force,
        "threads": torch.get_num_threads(), "inputs": list(names),
        "cache": str(found.path), "cache_name": found.name, "cache_bytes": found.bytes, "reused": reused,
        "conversion_seconds": found.meta.get("conversion_seconds"), "report": found.meta.get("report", []),
    }
    derivation.append(f"runs in {spec.title} {conversion['version']}"
                      + (f" (precision hint {hint}, in force {in_force})" if hint else ""))
    derivation.extend(conversion["report"])
    derivation.append(f"{reused}: {found.path} ({found.bytes / 2**20:.1f} MiB; "
                      f"`sizelab-cli runtimes --remove {found.name}` deletes it)")
    return RuntimeClassifier(run, tuple(names), config, conversion, file_bytes)


def _checkpoint_folder(entry) -> str | None:
    if entry.source == "folder":
        return entry.ref
    if entry.source == "hub":
        from ..catalog import _cached_hub_file
        config = _cached_hub_file(entry.ref, "config.json")
        return str(config.parent) if config else None
    return None


def load_cached(request, progress: Progress, rss_before: int, started: float, device_info):
    """A row converted before, as a LoadedModel, without building the torch model; None if not cached.

    Building the torch model first, only to drop it, left about 130 MiB of torch and transformers
    in the process (tests/benchmarks/runtimes.py, memory): a runtime row then held 2-5x a bare
    script of its runtime. The model card's figures were kept with the file when it was converted.
    """
    from ..catalog import known_depth
    from ..devices import advise
    from ..loading import LoadedModel, ModelInfo, _bundled_tokenizer
    from ..measure import MemorySampler, rss_bytes

    entry, variant = request.entry, request.variant
    full = known_depth(entry)
    origin = _checkpoint_folder(entry)
    if full is None or (entry.source in ("folder", "hub") and origin is None) or (variant.layers or 0) > full:
        return None  # the full load says why, or converts
    depth = variant.layers if variant.layers is not None and variant.layers < full else full
    final, _label = _locate(request, origin, depth)
    found = cache.read(final)
    card = found.meta.get("card") if found is not None else None
    if not card:
        return None
    block_telemetry()
    with MemorySampler() as sampler:
        progress(0.3, f"Reading the tokenizer; the converted model is in the cache ({found.name})")
        if entry.source in ("bundled", "synthetic"):
            tokenizer = _bundled_tokenizer()
        else:
            from transformers import AutoTokenizer
            tokenizer = AutoTokenizer.from_pretrained(origin)
        progress(0.8, f"Starting {SPECS[variant.runtime].title}")
        derivation = list(card["derivation"])
        config = SimpleNamespace(max_position_embeddings=card["max_length"])
        model = _start(found, variant, found.meta["inputs"], config, "reused from the cache", derivation)
        peak = sampler.peak
    info = ModelInfo(
        params_total=card["params_total"], params_non_embedding=card["params_non_embedding"],
        weight_bytes=model.file_bytes, layers=depth, layers_full=card["layers_full"], derivation=derivation,
        warnings=card["warnings"] + advise(device_info, variant), origin=card["origin"],
        load_seconds=time.perf_counter() - started, rss_before_load=rss_before, rss_after_load=rss_bytes(),
        rss_peak_load=peak, max_length=card["max_length"], runtime=model.conversion)
    progress(1.0, "Loaded")
    return LoadedModel(request=request, kind=card["kind"], model=model, tokenizer=tokenizer,
                       device=torch.device("cpu"), labels=tuple(card["labels"]), info=info)


def convert(model: nn.Module, kind: str, tokenizer, request, origin: str, max_length: int, derivation: list[str],
            cancel: CancelToken, progress: Progress, card: dict | None = None) -> RuntimeClassifier:
    """The fp32 torch classifier as the variant's runtime runs it, from the cache or converted now.

    card: what the model card shows of the torch model (parameters, labels, depth, origin); kept
    with the converted file, so that the next load of the row needs no torch model (load_cached).
    """
    variant = request.variant
    runtime = variant.runtime
    spec = SPECS[runtime]
    require(runtime, variant.int8, kind, request.device)
    block_telemetry()
    names = input_names(model, tokenizer)
    depth = derive.depth(model)  # layers kept: "L6" of six and "all layers" are the same file
    final, file_label = _locate(request, origin if request.entry.source in ("folder", "hub") else None, depth)
    make = CONVERTERS[runtime][0]
    found = cache.read(final)
    reused = "reused from the cache" if found is not None else "converted now"
    started = time.perf_counter()
    if found is None:
        try:
            with cache.Staging(final) as staging:
                files, report = make(model, names, _example(tokenizer, names), staging.path, variant, tokenizer,
                                     max_length, cancel, progress)
                found = staging.commit({
                    "model": request.entry.id, "model_name": request.entry.name, "label": file_label,
                    "layers": depth, "int8": variant.int8, "runtime": runtime, "runtime_version": version(runtime),
                    "versions": versions(), "files": files, "inputs": list(names), "report": report,
                    "conversion_seconds": round(time.perf_counter() - started, 2),
                    "card": card and card | {"derivation": list(derivation), "max_length": max_length}})
        except (SizeLabError, MemoryError, torch.OutOfMemoryError):
            raise
        except Exception as exc:  # exporters and optimizers raise many types; one clear line instead
            raise UnsupportedModelError(
                f"{spec.title} could not convert {request.entry.name} ({type(exc).__name__}: {exc})") from exc
    cancel.check()
    progress(0.9, f"Starting {spec.title}")
    return _start(found, variant, names, model.config, reused, derivation)
