"""Where the app's extra memory over a bare torch script goes, step by step.

    python -m tests.benchmarks.app_overhead

tests/benchmarks/memory.py finds the app's peak RSS over its baseline 6-9% above a bare
transformers script's for the same fp32 model (12-15 MiB). This walks both paths in fresh
processes, 1 thread, batch 1 x 128, and prints the RSS each step adds (psutil, after the step; the
kernel's peak, VmHWM, in brackets), so each MiB has a name:

- bare: tokenizer, AutoModel.from_pretrained of the encoder, 20 forwards under inference_mode;
- app: the same steps as core.loading and core.bench take them: tokenizer, encoder, the merged
  adapter, the head, handing freed heap back (malloc_trim), the benchmark's inputs (it tokenizes
  the shipped dev texts to build them), the memory sampler, 20 forwards.
"""

import json
import subprocess
import sys

STEPS = r'''
import json, sys
import psutil, torch
from transformers import AutoModel, AutoTokenizer
torch.set_num_threads(1)
path = sys.argv[1]
process = psutil.Process()
mib = 2 ** 20
steps = []

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
    return 0

def step(name):
    steps.append((name, process.memory_info().rss, hwm()))

if path == "app":
    from core import sentence
    from core.bench import Protocol, bench_inputs
    from core.loading import return_freed_heap
    from core.measure import MemorySampler
    from core.paths import bundled_encoder_dir
step("imports")
folder = __import__("core.paths", fromlist=["x"]).bundled_encoder_dir()
tokenizer = AutoTokenizer.from_pretrained(folder)
step("tokenizer")
encoder = AutoModel.from_pretrained(folder, use_safetensors=True).eval()
step("encoder weights")
if path == "app":
    sentence.merge_adapter(encoder)
    step("adapter merged into the weights")
    model = sentence.SentenceClassifier(encoder, sentence.load_head(6)).eval()
    step("head")
    return_freed_heap()
    step("malloc_trim")
    class Loaded:  # what bench_inputs reads
        pass
    loaded = Loaded()
    loaded.tokenizer, loaded.kind, loaded.device = tokenizer, "sentence", torch.device("cpu")
    loaded.info = type("Info", (), {"max_length": 512})()
    inputs = bench_inputs(loaded, Protocol(batch_size=1, seq_len=128))
    step("benchmark inputs (tokenizes the dev texts)")
    sampler = MemorySampler().__enter__()
    step("memory sampler")
else:
    model = encoder
    inputs = tokenizer(["word " * 200], truncation=True, max_length=128, return_tensors="pt")
    step("inputs")
with torch.inference_mode():
    for _ in range(20):
        model(**inputs)
step("20 forwards")
print(json.dumps([(n, r / mib, h / mib) for n, r, h in steps]))
'''


def walk(path: str) -> list:
    result = subprocess.run([sys.executable, "-c", STEPS, path], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    for path in ("bare", "app"):
        runs = [walk(path) for _ in range(2)]
        steps = min(runs, key=lambda s: s[-1][1])  # the quieter run of two
        print(f"{path}: RSS after imports {steps[0][1]:.1f} MiB; each step adds (MiB, peak in brackets)")
        for (name, rss, peak), (_, before, peak_before) in zip(steps[1:], steps):
            print(f"  {name:<44} {rss - before:+7.1f}  [{peak - peak_before:+7.1f}]")
        print(f"  {'total over imports':<44} {steps[-1][1] - steps[0][1]:+7.1f}  [{steps[-1][2] - steps[0][2]:+7.1f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
