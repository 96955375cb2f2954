"""The model panel alone (no engine): the variant it asks for, and what it reads from disk."""

from core.catalog import DEFAULT_MODEL_ID, ModelEntry, load_catalog
from gui import model_panel
from gui.model_panel import ModelPanel


def make_panel(qtbot) -> ModelPanel:
    panel = ModelPanel(load_catalog())
    qtbot.addWidget(panel)
    assert panel.select_model(DEFAULT_MODEL_ID)
    return panel


def test_all_layers_does_not_carry_over_to_a_model_of_unknown_depth(qtbot):
    panel = make_panel(qtbot)
    assert panel.layersSpin.value() == 6 and panel.variant().layers is None  # the bundled model, all 6
    panel.add_entry(ModelEntry.for_hub("someone/twelve-layers", "classification"))  # depth unknown
    assert panel.variant().layers is None  # all of its layers, not the bundled model's 6
    assert panel.layersSpin.text() == "all"


def test_a_depth_chosen_for_one_model_is_reset_for_a_model_of_unknown_depth(qtbot):
    panel = make_panel(qtbot)
    panel.layersSpin.setValue(3)
    assert panel.variant().layers == 3
    panel.add_entry(ModelEntry.for_hub("someone/five-layers", "classification"))
    assert panel.variant().layers is None
    assert panel.select_model(DEFAULT_MODEL_ID)
    assert panel.layersSpin.value() == 6 and panel.variant().layers is None  # "all" again, of its 6
    panel.layersSpin.setValue(2)
    assert panel.variant().layers == 2


def test_changing_precision_device_or_layers_does_not_read_the_disk(qtbot, monkeypatch):
    panel = make_panel(qtbot)
    reads = []
    real = model_panel.known_depth
    monkeypatch.setattr(model_panel, "known_depth", lambda entry: reads.append(entry.id) or real(entry))
    monkeypatch.setattr(model_panel, "is_cached", lambda entry: reads.append(entry.id) or False)
    panel.precisionCombo.setCurrentText("fp16")
    panel.int8Check.setChecked(True)
    panel.layersSpin.setValue(2)
    panel.deviceCombo.setCurrentIndex(0)
    assert reads == []
    assert panel.variant().int8 and panel.variant().layers == 2


def test_keep_last_makes_the_layer_pruning_baseline_variant(qtbot):
    from core.catalog import load_catalog
    from gui.model_panel import ModelPanel

    panel = ModelPanel(load_catalog())
    qtbot.addWidget(panel)
    panel.taskCombo.setCurrentIndex(panel.taskCombo.findData("generation"))
    panel.select_model("synthetic/gpt2")
    panel.layersSpin.setValue(6)
    panel.keepLastCheck.setChecked(True)
    assert panel.variant().keep_last and panel.variant().layers == 6
    panel.layersSpin.setValue(1)  # nothing to keep besides the last block: plain bottom-1
    assert not panel.variant().keep_last


def test_every_synthetic_model_has_a_known_depth(qtbot):
    """GPT-2's config says n_layer: its layers box read "all of ?" before a load."""
    from core.catalog import known_depth

    for entry in load_catalog().models:
        if entry.source == "synthetic":
            assert known_depth(entry), entry.id


def test_per_channel_is_offered_with_int8_on_torch_rows_only(qtbot):
    panel = make_panel(qtbot)
    assert not panel.perChannelCheck.isEnabled()
    panel.int8Check.setChecked(True)
    assert panel.perChannelCheck.isEnabled()
    panel.perChannelCheck.setChecked(True)
    assert panel.variant().per_channel and panel.variant().label() == "int8-pc"
    panel.int8Check.setChecked(False)
    assert not panel.perChannelCheck.isEnabled() and not panel.variant().per_channel
    ort = panel.runtimeCombo.findData("onnxruntime")
    if ort >= 0:  # installed in dev and CI (requirements-dev.txt)
        panel.int8Check.setChecked(True)
        panel.runtimeCombo.setCurrentIndex(ort)
        assert not panel.perChannelCheck.isEnabled() and not panel.variant().per_channel
