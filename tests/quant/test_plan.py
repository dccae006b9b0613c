"""The public plan: make_plan -> save -> edit -> load -> apply gives the same model as the
equivalent override recipe; apply and calibrate are separate; re-freezing a layer in a new
format reuses the statistics its observer kept."""

import json

import pytest
import torch

from genq.config import LayerOverride
from genq.errors import GenqError
from genq.models.dcgan import DCGANGenerator
from genq.quant import QuantPlan, QuantRecipe, apply_plan, calibrate, make_plan, quantize_


def _gan():
    torch.manual_seed(0)
    return DCGANGenerator(latent_dim=16, base_channels=16).eval()


def _out(g, z):
    with torch.no_grad():
        return g(z)


def test_plan_round_trip_and_edit_equals_override_recipe(tmp_path):
    z = torch.randn(16, 16)
    g_plan, g_recipe = _gan(), _gan()
    plan = make_plan(g_plan, QuantRecipe(w_bits=8, a_bits=8))
    path = plan.save(tmp_path / "plan.json")
    data = json.loads(path.read_text())
    layer = next(d for d in data["layers"] if d["name"] == "net.3")
    layer["weight"]["format"] = "int4"                       # edit one layer in the file
    path.write_text(json.dumps(data))
    edited = QuantPlan.load(path)
    assert edited.layer("net.3").weight.format == "int4"
    quantize_(g_plan, plan=edited, calib=[z])
    quantize_(g_recipe, QuantRecipe(w_bits=8, a_bits=8, overrides=[LayerOverride("net.3", w_bits=4)]),
              calib=[z])
    assert torch.equal(_out(g_plan, z), _out(g_recipe, z))


def test_apply_and_calibrate_are_separate_steps():
    g, z = _gan(), torch.randn(8, 16)
    plan = make_plan(g, QuantRecipe(w_bits=8, a_bits=8))
    assert plan.needs_static_calibration()
    apply_plan(g, plan)
    observing = [m for m in g.modules() if getattr(m, "mode", None) == "observe"]
    assert observing                                   # activations wait for data
    assert calibrate(g, [z]) == len(observing)
    assert all(m.mode == "quant" for m in observing)
    assert not make_plan(_gan(), QuantRecipe(w_bits=4, a_bits=None)).needs_static_calibration()
    assert not make_plan(_gan(), QuantRecipe(a_bits=8, a_dynamic=True)).needs_static_calibration()


def test_override_a_bits_alone_needs_calibration():
    """A W4A16 recipe whose override sets a_bits for one layer needs calibration data."""
    g = _gan()
    recipe = QuantRecipe(w_bits=4, a_bits=None, overrides=[LayerOverride("net.3", a_bits=8)])
    assert make_plan(g, recipe).needs_static_calibration()
    with pytest.raises(GenqError, match="needs calibration data"):
        quantize_(g, recipe)


def test_refreeze_in_another_format_without_calibration():
    g, z = _gan(), torch.randn(8, 16)
    quantize_(g, QuantRecipe(w_bits=8, a_bits=8), calib=[z])
    calls = []
    handle = g.register_forward_pre_hook(lambda *a: calls.append(1))
    plan = make_plan(_gan(), QuantRecipe(w_bits=8, a_bits=8))
    plan.layer("net.3").input.format = "int4"
    before = g.net[3].input_quantizer
    stats = before.observer.min_val.clone()
    apply_plan(g, plan)                                 # no calibration pass
    handle.remove()
    assert not calls and g.net[3].input_quantizer is before
    assert before.format.bits == 4 and before.mode == "quant"
    assert torch.equal(before.observer.min_val, stats)
    fresh = _gan()
    quantize_(fresh, QuantRecipe(w_bits=8, a_bits=8, overrides=[LayerOverride("net.3", a_bits=4)]),
              calib=[z])
    assert torch.equal(_out(g, z), _out(fresh, z))     # same as calibrating at 4 bits


def test_plan_names_a_layer_the_model_lacks():
    plan = make_plan(_gan(), QuantRecipe(w_bits=8, a_bits=None))
    plan.layers[0].name = "net.99"
    with pytest.raises(GenqError, match="net.99"):
        apply_plan(_gan(), plan)


def test_bad_plan_files(tmp_path):
    with pytest.raises(GenqError, match="does not exist"):
        QuantPlan.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(GenqError, match="not JSON"):
        QuantPlan.load(tmp_path / "bad.json")
    plan = make_plan(_gan(), QuantRecipe(w_bits=8, a_bits=None)).to_dict()
    plan["layers"][0]["weight"]["format"] = "int99"
    (tmp_path / "fmt.json").write_text(json.dumps(plan))
    with pytest.raises(GenqError, match="out of range"):
        QuantPlan.load(tmp_path / "fmt.json")


def test_quantized_model_compiles_without_graph_breaks():
    """Fake-quantized layers trace as tensor ops (the inference cache is skipped while
    compiling): fullgraph=True succeeds and matches eager."""
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 32)).eval()
    x = torch.randn(8, 32)
    quantize_(net, QuantRecipe(w_bits=4, a_bits=8), calib=[x])
    with torch.no_grad():
        ref = net(x)
        out = torch.compile(net, fullgraph=True, backend="eager")(x)
    assert torch.equal(out, ref)
