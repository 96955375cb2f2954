"""Memory truth: the app's memory figures against the operating system's and against the tensors.

    python -m tests.benchmarks.memory [--variants fp32 int8 fp32,L3 int8,L3 fp32,L1 bf16]

For each variant of the bundled model, in fresh processes, 1 thread, batch 1 x 128 tokens:

- app: what `sizelab-cli bench` and the Compare view report: peak RSS over the pre-load baseline
  while benchmarking (`rss_peak_over_baseline`), and the peak including the load itself
  (`max(rss_peak_load, rss_peak)` over the same baseline: int8 holds the fp32 weights while it
  quantizes them).
- bare: `/usr/bin/time -v`'s "Maximum resident set size" of a plain transformers script that loads
  the tokenizer and the same variant and runs the same forward, minus that of the same script with
  imports only: what the model costs by the kernel's count, with none of our code.
- weights: the app's weight bytes against the sum of nbytes of every tensor counted here another
  way (parameters and buffers, and the int8 weight, bias and scale of each quantized Linear), and
  for the whole fp32 model against the size of the safetensors file it came from.

Prints a table with the ratios app / bare and app / tensors.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BARE = r'''
import sys
import torch
from transformers import AutoModel, AutoTokenizer

folder, spec = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
if spec != "baseline":  # the app's baseline is taken before it reads the tokenizer: so is this one
    tokenizer = AutoTokenizer.from_pretrained(folder)
    inputs = tokenizer(["word " * 200], truncation=True, max_length=128, return_tensors="pt")
    words = spec.split(",")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(words[0], torch.float32)
    model = AutoModel.from_pretrained(folder, dtype=dtype).eval()
    layers = [int(w[1:]) for w in words if w.startswith("L")]
    if layers:
        model.encoder.layer = model.encoder.layer[:layers[0]]
    if "int8" in words:
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    with torch.inference_mode():
        for _ in range(20):
            model(**inputs)
'''


def _max_rss_kib(argv: list[str]) -> int:
    result = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True, check=True)
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))


def bare_over_baseline(folder: Path, spec: str) -> int:
    """Bytes: max RSS of the bare script with the model, minus without (best of 2 each)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(BARE)
    run = [sys.executable, script.name, str(folder)]
    with_model = min(_max_rss_kib([*run, spec]) for _ in range(2))
    baseline = min(_max_rss_kib([*run, "baseline"]) for _ in range(2))
    Path(script.name).unlink()
    return (with_model - baseline) * 1024


def tensor_bytes(model) -> int:
    """nbytes of every tensor the model holds, counted module by module (shared tensors once)."""
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    seen: dict[int, torch.Tensor] = {}  # holding each tensor keeps its address from being reused
    total = 0

    def add(tensor: torch.Tensor) -> None:
        nonlocal total
        if tensor is not None and tensor.data_ptr() not in seen:
            seen[tensor.data_ptr()] = tensor
            total += tensor.nbytes

    for module in model.modules():
        if isinstance(module, DynamicLinear):
            weight = module.weight()  # int8, per-tensor scale and zero point
            add(weight.int_repr())
            add(module.bias())
            total += 8 + 8  # its scale (double) and zero point (int64)
            continue
        for tensor in (*module.parameters(recurse=False), *module.buffers(recurse=False)):
            add(tensor)
    return total


def app_figures(spec: str) -> dict:
    """Runs in a fresh process: load and benchmark the variant as the app does."""
    from core.bench import Protocol, benchmark
    from core.catalog import DEFAULT_MODEL_ID, load_catalog
    from core.loading import load_model
    from core.requests import LoadRequest
    from core.variants import Variant

    loaded = load_model(LoadRequest(load_catalog().get(DEFAULT_MODEL_ID), Variant.parse(spec), threads=1))
    report = benchmark(loaded, Protocol(batch_size=1, seq_len=128, warmup=3, min_iterations=20, min_seconds=0.5))
    memory = report.memory
    return {"rss_peak_over_baseline": memory["rss_peak_over_baseline"],
            "peak_with_load_over_baseline": max(loaded.info.rss_peak_load, memory["rss_peak"])
            - memory["rss_before_load"],
            "weight_bytes": loaded.info.weight_bytes, "tensor_bytes": tensor_bytes(loaded.model)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", nargs="+", default=["fp32", "int8", "fp32,L3", "int8,L3", "fp32,L1", "bf16"])
    parser.add_argument("--app-figures", help=argparse.SUPPRESS)  # the child process's job
    args = parser.parse_args()
    if args.app_figures:
        print(json.dumps(app_figures(args.app_figures)))
        return 0
    from core.paths import bundled_encoder_dir

    folder = bundled_encoder_dir()
    file_bytes = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    mib = 2 ** 20
    print("Memory of the bundled model's variants, 1 thread, batch 1 x 128; MiB; fresh process each")
    print(f"{'variant':<9} {'app peak':>9} {'app+load':>9} {'bare':>8} {'app/bare':>9} {'load/bare':>10} "
          f"{'weights':>8} {'tensors':>8} {'wts/tensors':>12}")
    for spec in args.variants:
        child = subprocess.run([sys.executable, "-m", "tests.benchmarks.memory", "--app-figures", spec],
                               capture_output=True, text=True, check=True)
        app = json.loads(child.stdout.strip().splitlines()[-1])
        bare = bare_over_baseline(folder, spec)
        print(f"{spec:<9} {app['rss_peak_over_baseline'] / mib:9.1f} {app['peak_with_load_over_baseline'] / mib:9.1f} "
              f"{bare / mib:8.1f} {app['rss_peak_over_baseline'] / bare:9.3f} "
              f"{app['peak_with_load_over_baseline'] / bare:10.3f} {app['weight_bytes'] / mib:8.2f} "
              f"{app['tensor_bytes'] / mib:8.2f} {app['weight_bytes'] / app['tensor_bytes']:12.4f}")
    print(f"safetensors file of the encoder: {file_bytes / mib:.2f} MiB (the fp32 row's weights add the "
          f"adapter-merged head per depth the app keeps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
