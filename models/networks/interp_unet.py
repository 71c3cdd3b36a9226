"""The hybrid frame-interpolation network (stage 1): from two key magnitude frames and their myocardium
masks, predict the magnitude frame and the myocardium mask at a time between them."""

from __future__ import annotations

import math

import torch
from torch import nn

from .blocks import FiLM, NetworkConfigError, conv_norm_act, make_norm
from .unet import DecoderLevel, Encoder, check_spatial_size, level_channels

# Layout of the time-conditioning vector built by time_features():
#   [alpha, sin φ0, cos φ0, sin φ1, cos φ1, sin φt, cos φt]   with φ = 2π * phase.
N_TIME_FEATURES = 7
ALPHA_INDEX = 0

# Residual prior: the magnitude blend is clamped this far inside (-1, 1) before atanh so that the
# inverse stays finite; the prior mask logit is ±MASK_PRIOR_LOGIT (sigmoid(4) ≈ 0.98) where both key
# masks agree.
BLEND_EPS = 1e-2
MASK_PRIOR_LOGIT = 4.0


def _as_batch(value: float | torch.Tensor, name: str) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float32)
    if t.dim() > 1:
        raise NetworkConfigError(f"{name} must be a scalar or a 1-D tensor [B], got shape {list(t.shape)}")
    if not torch.isfinite(t).all():
        raise NetworkConfigError(f"{name} has non-finite values")
    return t.reshape(-1)


def time_features(
    alpha: float | torch.Tensor,
    phase0: float | torch.Tensor,
    phase1: float | torch.Tensor,
    phase_target: float | torch.Tensor,
) -> torch.Tensor:
    """Time-conditioning features ``[B, N_TIME_FEATURES]`` (float32) for :class:`HybridInterpUNet`.

    ``alpha``: fractional position of the target between the key frames (0 = first key frame,
    1 = second; interpolated frames lie in (0, 1)). ``phase0``, ``phase1``, ``phase_target``: positions
    in the cardiac cycle as fractions of the RR interval, [0, 1). Phases enter as sin/cos of 2π·phase so
    the encoding is periodic: the wrap from the last key frame to frame 0 of the next cycle
    (phase1 < phase0) is continuous. Scalars and [B] tensors broadcast together; feature 0 is alpha.
    """
    a = _as_batch(alpha, "alpha")
    if ((a < 0) | (a > 1)).any():
        raise NetworkConfigError(f"alpha must lie in [0, 1], got values in [{a.min():.3g}, {a.max():.3g}]")
    p0, p1, pt = (_as_batch(p, n) for p, n in ((phase0, "phase0"), (phase1, "phase1"), (phase_target, "phase_target")))
    try:
        a, p0, p1, pt = torch.broadcast_tensors(a, p0, p1, pt)
    except RuntimeError as err:
        raise NetworkConfigError(f"time feature batch sizes do not match: {err}") from err
    feats = [a]
    for phase in (p0, p1, pt):
        angle = 2 * math.pi * phase
        feats += [torch.sin(angle), torch.cos(angle)]
    return torch.stack(feats, dim=1)


class Fusion(nn.Module):
    """Fuses magnitude and segmentation features of one scale: concat -> 1x1 conv -> norm -> ReLU."""

    def __init__(self, mag_ch: int, seg_ch: int, out_ch: int, norm: str) -> None:
        super().__init__()
        self.fuse = conv_norm_act(mag_ch + seg_ch, out_ch, norm, kernel_size=1)

    def forward(self, mag: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([mag, seg], dim=1))


class HybridInterpUNet(nn.Module):
    """Hybrid UNet for cine frame interpolation with joint myocardium segmentation.

    Inputs: ``key_magnitude`` [B, 2, H, W] (the two key frames, in [-1, 1]), ``key_mask`` [B, 2, H, W]
    (their myocardium masks, {0, 1}) and ``time`` [B, N_TIME_FEATURES] from :func:`time_features`.
    ``forward`` returns ``(magnitude [B, 1, H, W] in [-1, 1], mask_logits [B, 1, H, W])``.

    Channel flow, with ``c_l = base_channels * 2**l`` for levels l = 0 .. depth (bottleneck):

    * magnitude encoder (2 -> c_0 .. c_depth) and segmentation encoder (2 -> c_l // 2; masks carry little
      texture, so half the width) with separate weights and max-pool down-sampling;
    * at every level the two maps are fused: concat (c_l + c_l // 2) -> 1x1 conv-norm-ReLU -> c_l;
    * time: an MLP embeds the time features (N_TIME_FEATURES -> time_dim -> time_dim); per scale, a
      linear layer gives FiLM scale/shift applied to the fused bottleneck and after every decoder level;
    * one shared decoder: up-sample c_{l+1} -> c_l, concat the fused skip (2 c_l), block -> c_l;
    * two 1x1 heads on the c_0 map: image (1 channel) and segmentation (1 channel, logits).

    Residual prior (``residual_blend=True``, the default): the heads predict a correction on top of the
    linear blend of the key frames, ``b = (1 - alpha) k0 + alpha k1`` (alpha = ``time[:, 0]``):
    magnitude = tanh(atanh(b) + image_head) (b clamped to ±0.99 so atanh stays finite), mask logits =
    ±4 * (2 * mask_blend - 1) + seg_head. Both
    heads start at zero, so the untrained network already outputs linear interpolation (the stage-1
    baseline) and learns only the motion the blend gets wrong, which converges far faster than learning
    the image from scratch. With ``residual_blend=False`` the image is tanh(image_head) and the logits are
    the head output.
    """

    def __init__(
        self,
        base_channels: int = 32,
        depth: int = 4,
        block: str = "unet",
        norm: str = "group",
        time_dim: int = 64,
        recurrence_steps: int = 2,
        upsample: str = "bilinear",
        residual_blend: bool = True,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise NetworkConfigError(f"network depth must be >= 1, got {depth}")
        if time_dim < 1:
            raise NetworkConfigError(f"time_dim must be >= 1, got {time_dim}")
        make_norm(norm, 1)  # validates the name before anything is built
        widths = level_channels(base_channels, depth)
        seg_widths = [max(1, c // 2) for c in widths]
        self.depth = depth
        self.residual_blend = residual_blend

        self.mag_encoder = Encoder(2, widths, block, norm, recurrence_steps)
        self.seg_encoder = Encoder(2, seg_widths, block, norm, recurrence_steps)
        self.fusions = nn.ModuleList(Fusion(c, s, c, norm) for c, s in zip(widths, seg_widths, strict=True))
        self.time_mlp = nn.Sequential(
            nn.Linear(N_TIME_FEATURES, time_dim),
            nn.SiLU(),
            nn.Linear(time_dim, time_dim),
            nn.SiLU(),
        )
        self.film_bottleneck = FiLM(time_dim, widths[depth])
        # Decoder levels run from depth-1 (coarsest) down to 0; films[i] belongs to decoder[i].
        self.decoder = nn.ModuleList(
            DecoderLevel(widths[level + 1], widths[level], block, norm, upsample, recurrence_steps)
            for level in reversed(range(depth))
        )
        self.films = nn.ModuleList(FiLM(time_dim, widths[level]) for level in reversed(range(depth)))
        self.image_head = nn.Conv2d(widths[0], 1, kernel_size=1)
        self.seg_head = nn.Conv2d(widths[0], 1, kernel_size=1)
        if residual_blend:
            for head in (self.image_head, self.seg_head):
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)
                # init.init_weights() leaves modules flagged like this alone, so that the
                # "start at the linear blend" property survives a global re-initialisation.
                head.keep_init = True

    def _check_inputs(self, key_magnitude: torch.Tensor, key_mask: torch.Tensor, time: torch.Tensor) -> None:
        if key_magnitude.dim() != 4 or key_magnitude.shape[1] != 2:
            raise NetworkConfigError(f"key_magnitude must be [B, 2, H, W], got {list(key_magnitude.shape)}")
        if key_mask.shape != key_magnitude.shape:
            raise NetworkConfigError(
                f"key_mask shape {list(key_mask.shape)} does not match key_magnitude {list(key_magnitude.shape)}"
            )
        if time.dim() != 2 or time.shape != (key_magnitude.shape[0], N_TIME_FEATURES):
            raise NetworkConfigError(
                f"time must be [B={key_magnitude.shape[0]}, {N_TIME_FEATURES}] (see time_features()), "
                f"got {list(time.shape)}"
            )
        check_spatial_size(key_magnitude.shape[-2], key_magnitude.shape[-1], self.depth)

    def forward(
        self, key_magnitude: torch.Tensor, key_mask: torch.Tensor, time: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_inputs(key_magnitude, key_mask, time)
        key_mask = key_mask.to(key_magnitude.dtype)
        mag_feats = self.mag_encoder(key_magnitude)
        # Masks enter centred at zero ({0,1} -> {-1,1}), like the magnitude.
        seg_feats = self.seg_encoder(2 * key_mask - 1)
        fused = [fuse(m, s) for fuse, m, s in zip(self.fusions, mag_feats, seg_feats, strict=True)]

        emb = self.time_mlp(time)
        h = self.film_bottleneck(fused[-1], emb)
        for level, dec, film in zip(reversed(range(self.depth)), self.decoder, self.films, strict=True):
            h = film(dec(h, fused[level]), emb)

        image_residual = self.image_head(h)
        mask_logits = self.seg_head(h)
        if not self.residual_blend:
            return torch.tanh(image_residual), mask_logits

        # The prior is computed in float32 from the inputs (not from autocast activations) so that it
        # is exact; adding the residual promotes the result to float32 as well.
        alpha = time[:, ALPHA_INDEX].float().clamp(0, 1).view(-1, 1, 1, 1)
        k = key_magnitude.float()
        blend = (1 - alpha) * k[:, :1] + alpha * k[:, 1:]
        prior = torch.atanh(blend.clamp(-1 + BLEND_EPS, 1 - BLEND_EPS))
        m = key_mask.float()
        mask_blend = (1 - alpha) * m[:, :1] + alpha * m[:, 1:]
        mask_prior = MASK_PRIOR_LOGIT * (2 * mask_blend - 1)
        return torch.tanh(prior + image_residual), mask_prior + mask_logits
