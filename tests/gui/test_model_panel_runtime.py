"""The model panel's runtime choice: only installed runtimes, only the precisions each one has."""

from core import runtimes
from core.catalog import load_catalog
from gui.model_panel import ModelPanel


def panel_with(qtbot):
    panel = ModelPanel(load_catalog())
    qtbot.addWidget(panel)
    return panel


def pick(panel, runtime):
    panel.runtimeCombo.setCurrentIndex(panel.runtimeCombo.findData(runtime))


def test_runtime_choice_builds_the_variant_and_limits_precision(qtbot):
    panel = panel_with(qtbot)
    assert [panel.runtimeCombo.itemData(i) for i in range(panel.runtimeCombo.count())] == runtimes.available()
    assert panel.variant().runtime == "torch"
    panel.precisionCombo.setCurrentText("bf16")
    pick(panel, "onnxruntime")  # fp32 and int8 only: bf16 falls back to fp32
    assert panel.precisionCombo.currentText() == "fp32"
    assert not panel.precisionCombo.model().item(2).isEnabled()
    assert panel.variant().runtime == "onnxruntime"
    pick(panel, "openvino")
    panel.precisionCombo.setCurrentText("bf16")
    panel.int8Check.setChecked(True)
    assert panel.variant().runtime == "openvino" and panel.variant().int8
    assert "NNCF" in panel.int8Check.text()
    assert "ov int8" in panel.load_request().variant.label()


def test_a_missing_runtime_is_not_offered_and_the_panel_says_how_to_add_it(qtbot, monkeypatch):
    real = runtimes._installed
    monkeypatch.setattr(runtimes, "_installed", lambda module: module not in ("openvino", "nncf") and real(module))
    panel = panel_with(qtbot)
    assert panel.runtimeCombo.findData("openvino") == -1
    assert not panel.runtimeHint.isHidden()
    assert "model-size-lab[openvino]" in panel.runtimeHint.text()
