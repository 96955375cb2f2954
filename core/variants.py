"""Variants: the levers of model size (precision, int8, layers kept, runtime), as immutable specs.

No torch here; core.derive applies a Variant to a real model.
"""

from dataclasses import dataclass

from .errors import InputError

PRECISIONS = ("fp32", "fp16", "bf16")
RUNTIMES = ("torch", "onnxruntime", "openvino")
# The short words of the CLI form and of labels; "torch" has none in labels (labels stay as before).
RUNTIME_WORDS = {"torch": "torch", "ort": "onnxruntime", "onnxruntime": "onnxruntime",
                 "ov": "openvino", "openvino": "openvino"}
RUNTIME_SHORT = {"torch": "", "onnxruntime": "ort", "openvino": "ov"}
# What each runtime row can be asked for: ONNX Runtime's bf16 CPU kernels are few, so fp32 only.
RUNTIME_PRECISIONS = {"torch": PRECISIONS, "onnxruntime": ("fp32",), "openvino": ("fp32", "bf16")}


@dataclass(frozen=True)
class Variant:
    """How to derive a smaller model from a checkpoint. layers=None keeps every layer.

    runtime: what runs it, torch (eager) or a converted copy in ONNX Runtime or OpenVINO
    (core.runtimes); precision and int8 then mean that runtime's own fp32/bf16 and int8.
    """

    precision: str = "fp32"
    int8: bool = False
    layers: int | None = None
    runtime: str = "torch"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"Unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}.")
        if self.int8 and self.precision != "fp32":
            raise InputError("int8 quantizes fp32 Linear layers; choose fp32 with int8.")
        if self.layers is not None and (isinstance(self.layers, bool) or not isinstance(self.layers, int) or self.layers < 1):
            raise InputError(f"Layers kept must be a whole number of at least 1, not {self.layers!r}.")
        if self.runtime not in RUNTIMES:
            raise InputError(f"Unknown runtime {self.runtime!r}; choose one of {', '.join(RUNTIMES)}.")
        if self.precision not in RUNTIME_PRECISIONS[self.runtime]:
            raise InputError(f"{self.runtime} rows run {' or '.join(RUNTIME_PRECISIONS[self.runtime])} "
                             f"(and int8), not {self.precision}.")

    def label(self, total_layers: int | None = None) -> str:
        parts = [RUNTIME_SHORT[self.runtime]] if self.runtime != "torch" else []
        parts.append("int8" if self.int8 else self.precision)
        if self.layers is not None:
            parts.append(f"L{self.layers}" + (f"/{total_layers}" if total_layers else ""))
        return " ".join(parts)

    def to_dict(self) -> dict:
        return {"precision": self.precision, "int8": self.int8, "layers": self.layers, "runtime": self.runtime}

    @classmethod
    def from_dict(cls, data: dict) -> "Variant":
        return cls(
            precision=data.get("precision", "fp32"),
            int8=bool(data.get("int8", False)),
            layers=data.get("layers"),
            runtime=data.get("runtime", "torch"),  # saved before runtimes existed: torch
        )

    @classmethod
    def parse(cls, text: str) -> "Variant":
        """Parse the CLI form: comma-separated words, e.g. "fp16", "int8,L3", "bf16,layers=2", "ort,int8"."""
        precision, int8, layers, runtime = "fp32", False, None, None
        for word in filter(None, (w.strip().lower() for w in text.split(","))):
            if word in RUNTIME_WORDS:
                if runtime not in (None, RUNTIME_WORDS[word]):
                    raise InputError(f"A variant runs on one runtime; {text!r} names "
                                     f"{runtime} and {RUNTIME_WORDS[word]}.")
                runtime = RUNTIME_WORDS[word]
            elif word in PRECISIONS:
                precision = word
            elif word == "int8":
                int8 = True
            elif word.startswith(("l", "layers=")):
                number = word.removeprefix("layers=").removeprefix("l")
                if not number.isdigit():
                    raise InputError(f"Cannot read layers from {word!r}; write e.g. L3 or layers=3.")
                layers = int(number)
            else:
                raise InputError(f"Unknown variant part {word!r}; use fp32/fp16/bf16, int8, L<k>, torch/ort/ov.")
        return cls(precision=precision, int8=int8, layers=layers, runtime=runtime or "torch")
