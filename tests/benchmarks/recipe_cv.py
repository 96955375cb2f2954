"""Choosing the bundled model's recipe by cross-validation on the training data (issue 16).

    OMP_NUM_THREADS=1 python -m tests.benchmarks.recipe_cv [--extra train_hard_round2] [--epochs 5] [--folds 3]

k folds of the fit split of train + train_hard (core.training.training_data: the calibration
sentences, dev and hard_test are never touched). Each fold trains the adapter recipe on the other
folds, plus every fit sentence of the --extra files (added to the training side only, so recipes
with and without them are scored on the very same held-out sentences), and scores the linear head
per depth on its fold. Prints the accuracy per depth and the mean over depths, on all the held
folds and on their hard sentences (train_hard's) alone. Run one recipe per process to use both
cores; about 6-8 minutes per fold on one core.
"""

import argparse
import json
import time

import torch

from core import sentence, training


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extra", action="append", default=[], help="a sentiment file added to training folds")
    parser.add_argument("--epochs", type=int, default=training.EPOCHS)
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    fit, _ = training.training_data()
    hard = {e.text for e in training.sentiment_split("train_hard")}
    extra = [e for name in args.extra for e in training.sentiment_split(name) if not training.is_calibration(e)]
    fold_of = [training._digest(e) // training.CALIBRATION_EVERY % args.folds for e in fit]
    correct = [0] * sentence.DEPTH
    correct_hard = [0] * sentence.DEPTH
    started = time.perf_counter()
    for fold in range(args.folds):
        train = [e for e, f in zip(fit, fold_of) if f != fold] + extra
        held = [e for e, f in zip(fit, fold_of) if f == fold]
        encoder, heads, _ = training.fit_encoder_and_heads(train, args.epochs)
        with torch.inference_mode():
            features = training.pooled_features(encoder, [e.text for e in held])
            targets = training.targets_of(held)
            is_hard = torch.tensor([e.text in hard for e in held])
            for k in range(sentence.DEPTH):
                right = heads[k](features[k] * sentence.POOL_SCALE).argmax(1) == targets
                correct[k] += int(right.sum())
                correct_hard[k] += int(right[is_hard].sum())
        print(f"fold {fold + 1}/{args.folds} done at {time.perf_counter() - started:.0f} s", flush=True)
    n, n_hard = len(fit), sum(e.text in hard for e in fit)
    report = {"extra": args.extra, "extra_sentences": len(extra), "epochs": args.epochs, "folds": args.folds,
              "held_sentences": n, "held_hard_sentences": n_hard,
              "accuracy": {str(k + 1): round(correct[k] / n, 4) for k in range(sentence.DEPTH)},
              "accuracy_hard": {str(k + 1): round(correct_hard[k] / n_hard, 4) for k in range(sentence.DEPTH)},
              "mean_over_depths": round(sum(correct) / (n * sentence.DEPTH), 4),
              "mean_over_depths_hard": round(sum(correct_hard) / (n_hard * sentence.DEPTH), 4),
              "seconds": round(time.perf_counter() - started)}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
