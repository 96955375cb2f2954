"""Save the app's synthetic GPT-2 as a checkpoint folder, so a peer tool can load what the app times.

    .venv/bin/python -m tests.benchmarks.make_gpt2_checkpoint [--out .bench-venvs/gpt2-synthetic]

Offline: the model is the one the app builds for synthetic/gpt2 (resources/configs/gpt2.json,
torch.manual_seed(0), random weights), loaded through core.loading so the weights match; saved as
safetensors with the app's stand-in tokenizer (the bundled MiniLM one: no GPT-2 tokenizer can be
downloaded here). peer_optimum.sh --task text-generation calls this when the folder is missing.
"""

import argparse
from pathlib import Path

from core.catalog import load_catalog
from core.loading import load_model
from core.requests import LoadRequest
from core.variants import Variant

DEFAULT_OUT = Path(".bench-venvs/gpt2-synthetic")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    loaded = load_model(LoadRequest(load_catalog().get("synthetic/gpt2"), Variant(), threads=1))
    args.out.mkdir(parents=True, exist_ok=True)
    loaded.model.save_pretrained(args.out, safe_serialization=True)
    loaded.tokenizer.save_pretrained(args.out)
    print(f"saved {type(loaded.model).__name__} ({next(loaded.model.parameters()).dtype}, "
          f"attention {loaded.model.config._attn_implementation}) to {args.out}")
    loaded.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
