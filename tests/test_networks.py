"""Tests of the network building blocks: shapes, gradients, the R2 recurrence, time conditioning,
size checks, PatchGAN geometry, GAN loss values, initialisation, memory formats and mixed precision."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from models.networks import (
    N_TIME_FEATURES,
    ConvBlock,
    GANLoss,
    HybridInterpUNet,
    NetworkConfigError,
    PatchDiscriminator,
    RecurrentConv,
    RRCNNBlock,
    UNet,
    check_spatial_size,
    init_weights,
    make_block,
    make_norm,
    time_features,
)
from models.networks.interp_unet import BLEND_EPS
from util.errors import OptionError

NETWORKS_DIR = Path(__file__).resolve().parents[1] / "models" / "networks"
BLOCKS = ("unet", "r2")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def interp_inputs(batch: int = 2, size: int = 32, alpha: float = 0.4) -> tuple[torch.Tensor, ...]:
    key_magnitude = torch.rand(batch, 2, size, size) * 2 - 1
    key_mask = (torch.rand(batch, 2, size, size) > 0.6).float()
    time = time_features(torch.full((batch,), alpha), 0.1, 0.3, 0.1 + 0.2 * alpha)
    return key_magnitude, key_mask, time


def tiny_interp(block: str = "unet", **kwargs) -> HybridInterpUNet:
    return HybridInterpUNet(base_channels=8, depth=2, block=block, time_dim=16, **kwargs)


# --------------------------------------------------------------------------------------------- blocks


def test_make_norm_kinds_and_group_counts() -> None:
    assert isinstance(make_norm("batch", 6), nn.BatchNorm2d)
    inst = make_norm("instance", 6)
    assert isinstance(inst, nn.InstanceNorm2d) and inst.affine
    assert isinstance(make_norm("none", 6), nn.Identity)
    # Up to 8 groups, always a divisor of the channel count.
    for channels, groups in [(4, 4), (8, 8), (12, 6), (24, 8), (9, 3), (7, 7), (1, 1), (64, 8)]:
        norm = make_norm("group", channels)
        assert isinstance(norm, nn.GroupNorm)
        assert norm.num_groups == groups, channels
    with pytest.raises(ValueError, match="batch, instance, group, none"):
        make_norm("layer", 4)


def test_make_block_types_and_unknown_name() -> None:
    assert isinstance(make_block("unet", 3, 8, "group"), ConvBlock)
    assert isinstance(make_block("r2", 3, 8, "group", recurrence_steps=3), RRCNNBlock)
    with pytest.raises(ValueError, match=r"unknown block type 'resnet'; valid: unet, r2"):
        make_block("resnet", 3, 8, "group")
    # It is also an OptionError so the command line reports it in one line.
    with pytest.raises(OptionError):
        make_block("resnet", 3, 8, "group")


def _identity_recurrent_conv(channels: int, steps: int) -> RecurrentConv:
    """A RecurrentConv whose f is exactly ReLU(x): identity (Dirac) kernel, no bias, no norm."""
    layer = RecurrentConv(channels, norm="none", steps=steps)
    conv = layer.f[0]
    with torch.no_grad():
        nn.init.dirac_(conv.weight)
        conv.bias.zero_()
    return layer


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
def test_recurrent_conv_accumulates_input_at_every_step(steps: int) -> None:
    # With f = identity on positive inputs: x_0 = x, x_{t+1} = x + x_t, so the output is (steps + 1) x.
    # The published conv(x + x) variant would give 2x whatever the number of steps.
    layer = _identity_recurrent_conv(3, steps)
    x = torch.rand(2, 3, 8, 8) + 0.1
    torch.testing.assert_close(layer(x), (steps + 1) * x)


def test_recurrent_conv_matches_manual_unrolling_with_shared_weights() -> None:
    layer = RecurrentConv(8, norm="group", steps=2).eval()
    x = torch.randn(2, 8, 12, 12)
    f = layer.f
    x0 = f(x)
    x1 = f(x + x0)
    x2 = f(x + x1)
    torch.testing.assert_close(layer(x), x2)
    # ...and is not the degenerate f(x + x).
    assert not torch.allclose(layer(x), f(x + x), atol=1e-3)
    # One set of weights serves every step.
    assert sum(isinstance(m, nn.Conv2d) for m in layer.modules()) == 1


def test_rrcnn_block_is_projection_plus_recurrent_body() -> None:
    block = RRCNNBlock(3, 8, norm="group", recurrence_steps=2)
    x = torch.randn(2, 3, 16, 16)
    projected = block.project(x)
    expected = projected + block.body[1](block.body[0](projected))
    out = block(x)
    assert out.shape == (2, 8, 16, 16)
    torch.testing.assert_close(out, expected)


# ----------------------------------------------------------------------------------------------- UNet


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("upsample", ["bilinear", "transpose"])
def test_unet_shapes_range_and_gradients(block: str, upsample: str) -> None:
    net = UNet(3, 2, base_channels=8, depth=3, block=block, upsample=upsample)
    x = torch.randn(2, 3, 32, 48, requires_grad=True)
    y = net(x)
    assert y.shape == (2, 2, 32, 48)
    assert y.abs().max() <= 1.0  # tanh output
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert net.head.weight.grad.abs().sum() > 0


def test_unet_linear_output_is_not_squashed() -> None:
    net = UNet(1, 1, base_channels=4, depth=2, out_activation="none")
    with torch.no_grad():
        net.head.bias.fill_(5.0)
    assert net(torch.randn(1, 1, 16, 16)).min() > 1.0
    with pytest.raises(ValueError, match="tanh, none"):
        UNet(1, 1, out_activation="sigmoid")


def test_check_spatial_size_message() -> None:
    check_spatial_size(32, 48, 4)  # fine
    with pytest.raises(ValueError, match=r"36x32.*divisible by 2\*\*3 = 8"):
        check_spatial_size(36, 32, 3)
    with pytest.raises(ValueError, match="depth must be >= 1"):
        check_spatial_size(32, 32, 0)


def test_networks_reject_bad_spatial_size() -> None:
    with pytest.raises(NetworkConfigError, match=r"30x32.*divisible by 2\*\*2 = 4"):
        UNet(1, 1, base_channels=4, depth=2)(torch.randn(1, 1, 30, 32))
    _, _, time = interp_inputs()
    with pytest.raises(ValueError, match=r"32x34.*divisible by 2\*\*2 = 4"):
        tiny_interp()(torch.zeros(2, 2, 32, 34), torch.zeros(2, 2, 32, 34), time)
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        UNet(3, 1, base_channels=4, depth=2)(torch.randn(1, 1, 16, 16))


# ------------------------------------------------------------------------------------ time features


def test_time_features_layout_and_periodicity() -> None:
    feats = time_features(torch.tensor([0.25, 0.5]), torch.tensor([0.0, 0.9]), 0.25, 1.0)
    assert feats.shape == (2, N_TIME_FEATURES) and feats.dtype == torch.float32
    torch.testing.assert_close(feats[:, 0], torch.tensor([0.25, 0.5]))
    # phase0 = 0 -> (sin, cos) = (0, 1); phase1 = 0.25 -> (1, 0); phase_target = 1.0 == 0 (periodic).
    torch.testing.assert_close(feats[0, 1:], torch.tensor([0.0, 1.0, 1.0, 0.0, 0.0, 1.0]), atol=1e-6, rtol=0)
    s, c = math.sin(2 * math.pi * 0.9), math.cos(2 * math.pi * 0.9)
    torch.testing.assert_close(feats[1, 1:3], torch.tensor([s, c]))
    assert time_features(0.5, 0.1, 0.2, 0.15).shape == (1, N_TIME_FEATURES)


def test_time_features_validation() -> None:
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        time_features(1.5, 0.0, 0.1, 0.05)
    with pytest.raises(ValueError, match="non-finite"):
        time_features(0.5, float("nan"), 0.1, 0.05)
    with pytest.raises(ValueError, match="batch sizes"):
        time_features(torch.tensor([0.2, 0.4]), torch.zeros(3), 0.1, 0.05)


# ---------------------------------------------------------------------------------- hybrid interp net


@pytest.mark.parametrize("block", BLOCKS)
def test_interp_shapes_and_gradients(block: str) -> None:
    net = tiny_interp(block, residual_blend=False)
    key_magnitude, key_mask, time = interp_inputs()
    key_magnitude.requires_grad_(True)
    magnitude, logits = net(key_magnitude, key_mask, time)
    assert magnitude.shape == (2, 1, 32, 32) and logits.shape == (2, 1, 32, 32)
    assert magnitude.abs().max() <= 1.0
    (magnitude.mean() + logits.mean()).backward()
    assert key_magnitude.grad.abs().sum() > 0
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    # Both encoders, the fusions, the time MLP and every FiLM layer take part.
    for prefix in ("mag_encoder", "seg_encoder", "fusions", "time_mlp", "film_bottleneck", "films"):
        total = sum(p.grad.abs().sum() for n, p in net.named_parameters() if n.startswith(prefix))
        assert total > 0, prefix


def test_interp_starts_at_linear_blend() -> None:
    net = tiny_interp()
    key_magnitude, key_mask, time = interp_inputs(alpha=0.25)
    with torch.no_grad():
        magnitude, logits = net(key_magnitude, key_mask, time)
    blend = 0.75 * key_magnitude[:, :1] + 0.25 * key_magnitude[:, 1:]
    torch.testing.assert_close(magnitude, blend.clamp(-1 + BLEND_EPS, 1 - BLEND_EPS), atol=1e-5, rtol=0)
    both = (key_mask[:, :1] * key_mask[:, 1:]).bool()
    neither = ((1 - key_mask[:, :1]) * (1 - key_mask[:, 1:])).bool()
    assert (logits[both] > 3).all() and (logits[neither] < -3).all()
    # The residual heads survive a global re-initialisation.
    init_weights(net, "normal", 0.02)
    assert net.image_head.weight.abs().sum() == 0 and net.seg_head.weight.abs().sum() == 0


@pytest.mark.parametrize("block", BLOCKS)
def test_interp_output_depends_on_time(block: str) -> None:
    net = tiny_interp(block, residual_blend=False).eval()
    key_magnitude, key_mask, _ = interp_inputs(batch=1)
    # Same images, same alpha, different positions in the cardiac cycle: only FiLM sees the difference.
    t_a = time_features(0.5, 0.1, 0.3, 0.2)
    t_b = time_features(0.5, 0.6, 0.8, 0.7)
    with torch.no_grad():
        mag_a, log_a = net(key_magnitude, key_mask, t_a)
        mag_b, log_b = net(key_magnitude, key_mask, t_b)
    assert (mag_a - mag_b).abs().max() > 1e-4
    assert (log_a - log_b).abs().max() > 1e-4
    # With the residual prior, alpha moves the output even before training.
    net = tiny_interp(block).eval()
    with torch.no_grad():
        mag_early, _ = net(key_magnitude, key_mask, time_features(0.2, 0.1, 0.3, 0.14))
        mag_late, _ = net(key_magnitude, key_mask, time_features(0.8, 0.1, 0.3, 0.26))
    assert (mag_early - mag_late).abs().mean() > 0.05


def test_interp_input_validation() -> None:
    net = tiny_interp()
    key_magnitude, key_mask, time = interp_inputs()
    with pytest.raises(ValueError, match=rf"time must be \[B=2, {N_TIME_FEATURES}\]"):
        net(key_magnitude, key_mask, time[:, :3])
    with pytest.raises(ValueError, match="key_mask shape"):
        net(key_magnitude, key_mask[:, :1], time)
    with pytest.raises(ValueError, match=r"key_magnitude must be \[B, 2, H, W\]"):
        net(key_magnitude[:, :1], key_mask[:, :1], time)


def test_interp_overfits_one_sample() -> None:
    # Two rings displaced left/right as key frames; the target is the ring half-way. The residual prior
    # starts at the blurred average, and the network must learn to move the ring.
    coords = torch.linspace(-1, 1, 32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")

    def ring(cx: float) -> torch.Tensor:
        r = ((xx - cx) ** 2 + yy**2).sqrt()
        return ((r > 0.3) & (r < 0.5)).float()

    key_mask = torch.stack([ring(-0.2), ring(0.2)])[None]
    key_magnitude = key_mask * 1.6 - 0.8
    target = (ring(0.0) * 1.6 - 0.8)[None, None]
    time = time_features(0.5, 0.0, 0.2, 0.1)
    net = tiny_interp()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    first = None
    for _ in range(300):
        magnitude, _ = net(key_magnitude, key_mask, time)
        loss = (magnitude - target).abs().mean()
        first = loss.item() if first is None else first
        if loss.item() < first / 10:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 0.1
    assert loss.item() < first / 10, (first, loss.item())


# ------------------------------------------------------------------------------------------ PatchGAN


def test_patchgan_output_shape_and_width() -> None:
    d = PatchDiscriminator(4, base_channels=4)
    assert d(torch.randn(1, 4, 256, 256)).shape == (1, 1, 30, 30)
    assert d(torch.randn(2, 4, 32, 32)).shape == (2, 1, 2, 2)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8, 16, 32, 1]
    assert all(c.kernel_size == (4, 4) for c in convs)
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert not any(isinstance(m, nn.Sigmoid) for m in d.modules())
    with pytest.raises(ValueError, match=r"\[B, 4, H, W\]"):
        d(torch.randn(1, 3, 32, 32))


def test_patchgan_receptive_field_is_70() -> None:
    d = PatchDiscriminator(1, base_channels=2, norm="none")
    x = torch.randn(1, 1, 160, 160, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    rows = x.grad[0, 0].abs().sum(dim=1).nonzero()
    cols = x.grad[0, 0].abs().sum(dim=0).nonzero()
    assert int(rows.max() - rows.min()) + 1 == 70
    assert int(cols.max() - cols.min()) + 1 == 70


def test_patchgan_spectral_norm_and_norm_choice() -> None:
    d = PatchDiscriminator(2, base_channels=4, norm="none", spectral_norm=True)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert all(hasattr(c, "parametrizations") for c in convs)
    assert d(torch.randn(1, 2, 32, 32)).shape == (1, 1, 2, 2)
    assert any(isinstance(m, nn.BatchNorm2d) for m in PatchDiscriminator(2, 4, norm="batch").modules())
    with pytest.raises(ValueError, match="valid"):
        PatchDiscriminator(2, 4, norm="spectral")


# ------------------------------------------------------------------------------------------ GAN loss


def test_gan_loss_values() -> None:
    pred = torch.tensor([[0.5, 2.0, -1.0]])
    lsgan = GANLoss("lsgan")
    assert lsgan(pred, True).item() == pytest.approx((0.25 + 1.0 + 4.0) / 3)
    assert lsgan(pred, False).item() == pytest.approx((0.25 + 4.0 + 1.0) / 3)
    assert lsgan(pred, True, for_discriminator=False).item() == pytest.approx(lsgan(pred, True).item())

    vanilla = GANLoss("vanilla")
    assert vanilla(torch.zeros(2, 1, 3, 3), True).item() == pytest.approx(math.log(2))
    assert vanilla(torch.tensor([2.0]), False).item() == pytest.approx(math.log1p(math.exp(2.0)))

    hinge = GANLoss("hinge")
    assert hinge(pred, True).item() == pytest.approx((0.5 + 0.0 + 2.0) / 3)
    assert hinge(pred, False).item() == pytest.approx((1.5 + 3.0 + 0.0) / 3)
    assert hinge(pred, True, for_discriminator=False).item() == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="target_is_real=True"):
        hinge(pred, False, for_discriminator=False)

    # Multi-scale: mean of the per-scale losses.
    multi = lsgan([torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)], True)
    assert multi.item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="lsgan, vanilla, hinge"):
        GANLoss("wgan")


def test_gan_loss_is_float32_under_bfloat16_input() -> None:
    loss = GANLoss("lsgan")(torch.full((1, 1, 4, 4), 0.5, dtype=torch.bfloat16), True)
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(0.25)


# ------------------------------------------------------------------------------------------------ init


def test_init_weights_kinds() -> None:
    net = UNet(1, 1, base_channels=16, depth=2, norm="batch")
    init_weights(net, "normal", gain=0.02)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    big = max(convs, key=lambda c: c.weight.numel())
    assert big.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert all(c.bias is None or c.bias.abs().sum() == 0 for c in convs)
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for n in norms:
        assert (n.weight - 1).abs().max() < 0.1 and n.bias.abs().sum() == 0
    assert any((n.weight != 1).any() for n in norms)  # N(1, gain), not exactly 1

    init_weights(net, "kaiming")
    fan_in = big.weight[0].numel()
    assert big.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
    assert all((n.weight == 1).all() for n in norms)

    init_weights(net, "orthogonal", gain=0.5)
    w = big.weight.flatten(1)
    rows = min(w.shape)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    torch.testing.assert_close(gram, 0.25 * torch.eye(rows), atol=1e-4, rtol=0)

    init_weights(net, "xavier", gain=0.02)
    assert big.weight.abs().max() < 0.02
    with pytest.raises(ValueError, match="normal, xavier, kaiming, orthogonal"):
        init_weights(net, "uniform")


def test_init_weights_reaches_spectral_norm_original() -> None:
    d = PatchDiscriminator(1, base_channels=8, norm="none", spectral_norm=True)
    init_weights(d, "normal", gain=0.02)
    first = d.model[0].parametrizations.weight.original
    assert first.abs().max() < 0.2 and first.std().item() == pytest.approx(0.02, rel=0.35)


# ------------------------------------------------------------------- memory format / mixed precision


def _all_models() -> list[tuple[str, nn.Module, tuple[torch.Tensor, ...]]]:
    models: list[tuple[str, nn.Module, tuple[torch.Tensor, ...]]] = []
    for block in BLOCKS:
        models.append(
            (f"unet-{block}", UNet(3, 3, base_channels=8, depth=2, block=block), (torch.randn(2, 3, 32, 32),))
        )
        models.append((f"interp-{block}", tiny_interp(block, residual_blend=False), interp_inputs()))
    models.append(("patchgan", PatchDiscriminator(4, base_channels=8), (torch.randn(2, 4, 32, 32),)))
    return models


def test_models_channels_last_and_bfloat16_autocast() -> None:
    for name, model, inputs in _all_models():
        model.eval()
        with torch.no_grad():
            reference = model(*inputs)
            model_cl = model.to(memory_format=torch.channels_last)
            inputs_cl = tuple(x.to(memory_format=torch.channels_last) if x.dim() == 4 else x for x in inputs)
            out_cl = model_cl(*inputs_cl)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out_bf16 = model_cl(*inputs_cl)
        refs = reference if isinstance(reference, tuple) else (reference,)
        outs_cl = out_cl if isinstance(out_cl, tuple) else (out_cl,)
        outs_bf16 = out_bf16 if isinstance(out_bf16, tuple) else (out_bf16,)
        for ref, cl, bf in zip(refs, outs_cl, outs_bf16, strict=True):
            torch.testing.assert_close(cl, ref, atol=1e-4, rtol=1e-4, msg=name)
            assert bf.shape == ref.shape and torch.isfinite(bf).all(), name
            # bfloat16 keeps ~3 significant digits: the outputs agree loosely, not bit-for-bit.
            assert (bf.float() - ref).abs().mean() < 0.1 * ref.abs().mean() + 0.05, name


def test_autocast_backward_is_finite() -> None:
    net = tiny_interp("r2").to(memory_format=torch.channels_last)
    key_magnitude, key_mask, time = interp_inputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        magnitude, logits = net(key_magnitude.to(memory_format=torch.channels_last), key_mask, time)
        loss = magnitude.float().abs().mean() + logits.float().abs().mean()
    loss.backward()
    assert magnitude.dtype == torch.float32  # the residual prior keeps the output in float32
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in net.parameters())


# ------------------------------------------------------------------------------------------- hygiene


def test_networks_do_not_import_torchvision() -> None:
    for path in NETWORKS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "torchvision" for n in names), path.name
