"""What a comparison says and writes, on made-up runs (no torch): the share of the peak per precision,
the memory saving's explanation, the diff's quality in the table's format, the picture's caption, and
the files' modes (issue 13)."""

import os
import stat

import pytest

from core import compare_data
from core.columns import COLUMNS, diff_cells, diff_headers
from core.safe_files import FileRefused
from tests.core.test_compare import made_up_row, made_up_run

COLUMN = {column.key: column for column in COLUMNS}


def a_ladder(**run_fields):
    fp32 = made_up_row(0, "big", 100, 0.040, 400, 0.873, "pn")
    int8 = made_up_row(1, "big", 100, 0.025, 544, 0.869, "pn", variant="int8")
    for row, variant in ((fp32, {"precision": "fp32", "int8": False}), (int8, {"precision": "fp32", "int8": True})):
        row["model"]["variant"] = variant | {"layers": None, "runtime": "torch"}
    int8["efficiency"] = {"gflops": 34.0, "fraction_of_peak": 1.7}  # int8 work against the fp32 peak
    return made_up_run([fp32, int8]) | run_fields


def test_int8_rows_have_no_share_of_the_fp32_peak_and_say_why():
    fp32, int8 = compare_data.table(a_ladder())
    assert fp32["fraction_of_peak"] == 0.5 and fp32["peak_note"] == ""
    assert int8["fraction_of_peak"] is None  # was 1.7: "170%" of a peak it never ran against
    assert "int8" in int8["peak_note"] and "fp32" in int8["peak_note"]
    assert COLUMN["fraction_of_peak"].cell(int8) == "n/a" and COLUMN["fraction_of_peak"].cell(fp32) == "50%"
    text = compare_data.text_table(a_ladder())
    assert "170%" not in text and "of peak n/a for int8" in text and "mem saved below 0: more memory" in text
    assert compare_data.table_csv(a_ladder()).splitlines()[2].split(",")[COLUMNS.index(COLUMN["fraction_of_peak"])] == "n/a"


def test_an_int8_peak_when_the_run_has_one():
    _fp32, int8 = compare_data.table(a_ladder(peaks={"int8": 68.0}))
    assert int8["fraction_of_peak"] == pytest.approx(0.5) and "68.0" in int8["peak_note"]


@pytest.mark.parametrize("variant, precision", [({"precision": "bf16", "runtime": "openvino"}, "bf16"),
                                                ({"precision": "fp32", "int8": True, "runtime": "onnxruntime"}, "int8"),
                                                ({"precision": "fp16"}, "fp16"), ({}, "fp32")])
def test_the_precision_a_variant_computes_in(variant, precision):
    assert compare_data.compute_precision(variant) == precision


def test_mem_saved_says_against_what_and_what_negative_means():
    tip = COLUMN["memory_saving"].tip
    assert "reference row" in tip and "Negative" in tip and "more" in tip
    fp32, int8 = compare_data.table(a_ladder())
    assert int8["memory_saving"] == pytest.approx(-0.36)
    assert "peak" in COLUMN["fraction_of_peak"].tip and "n/a" in COLUMN["fraction_of_peak"].tip


def test_the_diff_shows_quality_as_the_table_does():
    a = a_ladder()
    b = a_ladder()
    b["rows"][0]["quality"]["value"] = 0.885
    diff = compare_data.diff_runs(a, b)
    headers = diff_headers()
    cells = dict(zip(headers, diff_cells(diff["rows"][0])))
    table_cell = COLUMN["quality"].cell(compare_data.table(a)[0])
    assert cells["quality A"] == table_cell == "87.3%"  # was 0.873 beside a table showing 87.3%
    assert cells["quality B"] == "88.5%" and cells["Δ"] == "+1.2 pts"
    text = compare_data.text_diff(diff)
    assert "87.3%" in text and "0.873" not in text


def test_the_diff_of_other_metrics_keeps_their_units():
    row = {"quality_metric": "chrF"}
    assert COLUMN["quality"].value_text(54.25, row) == "54.2" and COLUMN["quality"].change_text(-1.5, row) == "-1.5"
    assert COLUMN["quality"].value_text(12.34, {"quality_metric": "perplexity"}) == "ppl 12.3"
    assert COLUMN["quality"].value_text(None, row) == "—" and COLUMN["quality"].change_text(None, row) == ""


def test_the_caption_holds_the_settings():
    run = a_ladder(finished="2025-03-04T05:06:07+00:00")
    run["request"] |= {"threads": 4}
    run["environment"] = {"cpu": "AMD EPYC 7B13"}
    caption = compare_data.caption(run)
    for part in ("batch 1", "sequence length 128", "cpu, 4 threads", "AMD EPYC 7B13", "2025-03-04"):
        assert part in caption
    assert "new tokens" not in caption  # classification generates none
    run["rows"][0]["model"]["task"] = "translation"
    run["request"]["protocol"]["new_tokens"] = 32
    assert "32 new tokens" in compare_data.caption(run)


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_new_exports_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    run = a_ladder()
    paths = [compare_data.save_run(tmp_path / "run.json", run), compare_data.save_csv(tmp_path / "run.csv", run),
             compare_data.save_png(tmp_path / "run.png", b"\x89PNG\r\n\x1a\n")]
    assert [mode(path) for path in paths] == [expected] * 3
    assert (tmp_path / "run.png").read_bytes() == b"\x89PNG\r\n\x1a\n"


def test_overwritten_exports_keep_their_mode(tmp_path, umask):
    run = a_ladder()
    for name, save in (("run.json", lambda p: compare_data.save_run(p, run)),
                       ("run.csv", lambda p: compare_data.save_csv(p, run)),
                       ("run.png", lambda p: compare_data.save_png(p, b"png"))):
        path = tmp_path / name
        path.write_text("old")
        path.chmod(0o604)
        save(path)
        assert mode(path) == 0o604 and path.read_bytes() != b"old"


def test_a_png_is_not_written_over_a_fifo(tmp_path):
    fifo = tmp_path / "plots.png"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused, match="FIFO"):
        compare_data.save_png(fifo, b"png")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
