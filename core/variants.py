"""Variants: the levers of model size (precision, int8, layers kept), as immutable specs.

No torch here; core.derive applies a Variant to a real model.
"""

from dataclasses import dataclass

from .errors import InputError

PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Variant:
    """How to derive a smaller model from a checkpoint. layers=None keeps every layer."""

    precision: str = "fp32"
    int8: bool = False
    layers: int | None = None
    keep_last: bool = False  # with layers: the bottom layers-1 blocks plus the last one (layer-pruning baseline)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"Unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}.")
        if self.int8 and self.precision != "fp32":
            raise InputError("int8 quantizes fp32 Linear layers; choose fp32 with int8.")
        if self.layers is not None and (isinstance(self.layers, bool) or not isinstance(self.layers, int) or self.layers < 1):
            raise InputError(f"Layers kept must be a whole number of at least 1, not {self.layers!r}.")
        if self.keep_last and (self.layers is None or self.layers < 2):
            raise InputError("Keeping the last layer needs at least 2 layers kept (e.g. L4,keep-last).")

    def label(self, total_layers: int | None = None) -> str:
        parts = ["int8" if self.int8 else self.precision]
        if self.layers is not None:
            parts.append(f"L{self.layers}" + (f"/{total_layers}" if total_layers else "")
                         + ("+last" if self.keep_last else ""))
        return " ".join(parts)

    def to_dict(self) -> dict:
        data = {"precision": self.precision, "int8": self.int8, "layers": self.layers}
        return data | ({"keep_last": True} if self.keep_last else {})  # absent when off: older files stay equal

    @classmethod
    def from_dict(cls, data: dict) -> "Variant":
        return cls(
            precision=data.get("precision", "fp32"),
            int8=bool(data.get("int8", False)),
            layers=data.get("layers"),
            keep_last=bool(data.get("keep_last", False)),
        )

    @classmethod
    def parse(cls, text: str) -> "Variant":
        """Parse the CLI form: comma-separated words, e.g. "fp16", "int8,L3", "bf16,layers=2", "L6,keep-last"."""
        precision, int8, layers, keep_last = "fp32", False, None, False
        for word in filter(None, (w.strip().lower() for w in text.split(","))):
            if word in PRECISIONS:
                precision = word
            elif word == "int8":
                int8 = True
            elif word in ("keep-last", "keep_last", "+last"):
                keep_last = True
            elif word.startswith(("l", "layers=")):
                number = word.removeprefix("layers=").removeprefix("l")
                if not number.isdigit():
                    raise InputError(f"Cannot read layers from {word!r}; write e.g. L3 or layers=3.")
                layers = int(number)
            else:
                raise InputError(f"Unknown variant part {word!r}; use fp32/fp16/bf16, int8, L<k>, keep-last.")
        return cls(precision=precision, int8=int8, layers=layers, keep_last=keep_last)
