"""int8 per tensor against int8 per channel: what each costs in quality, and in speed.

    python -m tests.benchmarks.int8_per_channel [--threads 1] [--tokens 512]

Part 1, real weights: the bundled MiniLM-L6 sentiment model at fp32, int8 and int8 per channel,
over the shipped dev set and the hard held-out set, one sentence at a time: accuracy, agreement
with fp32, p50 latency of one dev sentence (20 runs after 3 warm-up).

Part 2, causal LMs (synthetic configs, random weights: the rounding of real checkpoints' outlier
rows is not there, so this part shows only what the scheme costs in speed and how far the logits
move): GPT-2 and SmolLM2-135M, the first --tokens tokens of the shipped perplexity text through
each variant in one forward pass: mean KL(fp32 || variant) of the next-token distributions, the
share of positions whose top token matches fp32's, and the forward pass's time (best of 3).
"""

import argparse
import time

import torch

from core import tasks, training
from core.catalog import DEFAULT_MODEL_ID, load_catalog
from core.devices import set_threads
from core.generation import PERPLEXITY_TEXT
from core.loading import load_model
from core.requests import LoadRequest
from core.variants import Variant

VARIANTS = (Variant(), Variant(int8=True), Variant(int8=True, per_channel=True))


def each_variant(entry, threads: int):
    """(variant, the model loaded as it), one at a time: released before the next loads."""
    for variant in VARIANTS:
        loaded = load_model(LoadRequest(entry=entry, variant=variant, threads=threads))
        try:
            yield variant, loaded
        finally:
            loaded.release()


def classifier_rows(threads: int) -> None:
    entry = load_catalog().get(DEFAULT_MODEL_ID)
    splits = {name: training.sentiment_split(name) for name in ("dev", "hard_test")}
    print(f"{entry.name}: accuracy on the shipped sets, agreement with fp32, p50 of one sentence, {threads} thread(s)")
    print("| variant | dev | hard held-out | agreement with fp32 (dev + hard) | p50 ms |")
    print("|---|---|---|---|---|")
    reference = None
    for variant, loaded in each_variant(entry, threads):
        labels, cells = [], []
        for examples in splits.values():
            # One sentence at a time, as the live view runs them: dynamic int8 scales its activations over
            # the whole batch, so a padded batch of many sentences gives other answers than one alone.
            predicted = [tasks.classify(loaded, [e.text]).predictions[0].label for e in examples]
            cells.append(f"{sum(p == e.label for p, e in zip(predicted, examples)) / len(examples):.1%}")
            labels += predicted
        reference = reference or labels
        agreement = sum(a == b for a, b in zip(labels, reference)) / len(labels)
        sentence = [splits["dev"][0].text]
        for _ in range(3):
            tasks.classify(loaded, sentence)
        times = []
        for _ in range(20):
            started = time.perf_counter()
            tasks.classify(loaded, sentence)
            times.append(time.perf_counter() - started)
        print(f"| {variant.label()} | {cells[0]} | {cells[1]} | {agreement:.1%} | {sorted(times)[10] * 1000:.2f} |")


@torch.inference_mode()
def causal_rows(model_id: str, tokens: int, threads: int) -> None:
    entry = load_catalog().get(model_id)
    print(f"\n{entry.name}: the first {tokens} tokens of {PERPLEXITY_TEXT.name}, one forward pass, {threads} thread(s)")
    print("| variant | mean KL(fp32 ‖ variant) | top-1 agreement with fp32 | forward ms (best of 3) |")
    print("|---|---|---|---|")
    reference = None
    for variant, loaded in each_variant(entry, threads):
        ids = loaded.tokenizer(PERPLEXITY_TEXT.read_text(encoding="utf-8"), return_tensors="pt",
                               verbose=False)["input_ids"][:, :tokens]
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            logits = loaded.model(ids).logits.float()
            best = min(best, time.perf_counter() - started)
        logp = torch.log_softmax(logits, dim=-1)
        if reference is None:
            reference = logp
        kl = torch.sum(reference.exp() * (reference - logp), dim=-1).mean().item()
        top1 = (logp.argmax(-1) == reference.argmax(-1)).float().mean().item()
        print(f"| {variant.label()} | {kl:.5f} | {top1:.1%} | {best * 1000:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=512)
    args = parser.parse_args()
    set_threads(args.threads)
    classifier_rows(args.threads)
    for model_id in ("synthetic/gpt2", "synthetic/smollm2-135m"):
        causal_rows(model_id, args.tokens, args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
