"""int8 on this CPU: torch.ao dynamic quantization against torchao, on the MiniLM-L6 encoder.

    pip install torchao   (not a dependency of the app)
    python -m tests.benchmarks.int8_backends

Prints p50 of 30 forwards per backend and shape, and the cosine similarity of the hidden states
to fp32 (how much each quantization changes the model's output).
"""

import copy
import warnings

import torch
from transformers import AutoModel

from core.derive import quantize_int8
from core.paths import bundled_encoder_dir
from tests.benchmarks.fidelity import bare_p50


def main() -> int:
    torch.manual_seed(0)
    base = AutoModel.from_pretrained(bundled_encoder_dir()).eval()
    variants = {"fp32": base, "torch.ao dynamic": quantize_int8(copy.deepcopy(base))}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torchao.quantization import Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig, quantize_
        for name, config in (("torchao int8 dynamic", Int8DynamicActivationInt8WeightConfig()),
                             ("torchao int8 weight-only", Int8WeightOnlyConfig())):
            model = copy.deepcopy(base)
            quantize_(model, config)
            variants[name] = model
    except ImportError:
        print("torchao is not installed: measuring torch.ao only")
    for batch, seq in ((1, 128), (8, 128)):
        ids = torch.randint(1000, 20000, (batch, seq))
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        with torch.inference_mode():
            reference = base(**inputs).last_hidden_state.flatten()
        fp32 = bare_p50(base, inputs, 30) * 1000
        for name, model in variants.items():
            ms = bare_p50(model, inputs, 30) * 1000
            with torch.inference_mode():
                cosine = torch.nn.functional.cosine_similarity(reference, model(**inputs).last_hidden_state.flatten(), dim=0)
            print(f"{batch}x{seq:<4} {name:<26} p50 {ms:7.2f} ms  speed-up {fp32 / ms:5.2f}x  cosine {float(cosine):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
