import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InputError
from core.stats import Stats, percentile
from core.variants import Variant


def test_parse_variant_words():
    assert Variant.parse("int8,L3") == Variant("fp32", True, 3)
    assert Variant.parse("bf16, layers=2") == Variant("bf16", False, 2)
    assert Variant.parse("") == Variant()
    assert Variant(layers=2).label(6) == "fp32 L2/6"


def test_per_channel_int8_is_a_variant_of_its_own():
    variant = Variant.parse("int8,per-channel,L3")
    assert variant == Variant("fp32", True, 3, per_channel=True) != Variant("fp32", True, 3)
    assert variant.label(6) == "int8-pc L3/6"
    assert Variant.from_dict(variant.to_dict()) == variant
    assert "per_channel" not in Variant(int8=True).to_dict()  # saved runs of before read the same


@pytest.mark.parametrize("text", ["fp8", "int8,fp16", "L0", "Lx", "layers=-1", "per-channel", "ort,int8,pc"])
def test_bad_variants_are_input_errors(text):
    with pytest.raises(InputError):
        Variant.parse(text)


@given(st.text(max_size=30))
def test_parse_never_crashes_with_other_errors(text):
    try:
        Variant.parse(text)
    except InputError:
        pass


@given(st.lists(st.floats(min_value=0, max_value=1e3, allow_nan=False), min_size=1, max_size=200),
       st.sampled_from([0, 10, 25, 50, 90, 99, 100]))
def test_percentile_matches_numpy(values, q):
    assert percentile(sorted(values), q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-9)


def test_stats_and_noise_flag():
    steady = Stats.of([10.0] * 50 + [10.5] * 50)
    assert steady.p50 == pytest.approx(10.25) and not steady.noisy
    noisy = Stats.of([1, 2, 3, 4, 5, 6, 7, 8])
    assert noisy.noisy
    assert noisy.iqr == pytest.approx(3.5)
    assert Stats.of([3.0]).std == 0.0
