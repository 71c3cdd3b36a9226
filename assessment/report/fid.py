"""Frechet Inception Distance, strictly optional.

pytorch-fid needs torchvision (which does not load against every torch build) and downloads the
Inception weights on first use (impossible offline). So nothing here imports it until FID is asked for,
it is installed, *and* its weights are already on disk; in every other case the report gets the string
``unavailable: <reason>``, never a number that could be mistaken for a score.

What is compared: the velocity maps (every frame and direction of every slice with a reference), each
mapped from [-VENC, VENC] to [0, 1] and repeated over the three colour channels. FID judges whether the
synthesised maps look like acquired ones as a population; on a handful of slices its covariance estimate
is poor, so treat small-cohort values as indicative only.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from util.conventions import venc_scale

#: file name of the Inception weights pytorch-fid loads through torch.hub (its FID_WEIGHTS_URL)
FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
NOT_REQUESTED = "unavailable: not requested (run with --fid)"


def weights_path() -> Path:
    """Where torch.hub keeps the Inception weights once pytorch-fid has downloaded them."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_FILE


def unavailable_reason(requested: bool) -> str | None:
    """Why FID cannot be computed, as the report shows it, or None if it can.

    Checks, in order: requested, pytorch-fid installed, weights on disk, pytorch-fid importable (the
    import pulls in torchvision, so it is tried last and only here).
    """
    if not requested:
        return NOT_REQUESTED
    if importlib.util.find_spec("pytorch_fid") is None:
        return "unavailable: pytorch-fid is not installed (pip install -r requirements-fid.txt)"
    path = weights_path()
    if not path.is_file():
        return f"unavailable: Inception weights not found at {path} (pytorch-fid downloads them on first use)"
    try:
        importlib.import_module("pytorch_fid.inception")
    except Exception as exc:  # torchvision mismatches raise RuntimeError, missing pieces ImportError
        text = " ".join(str(exc).split())[:160]
        return f"unavailable: pytorch-fid does not import ({type(exc).__name__}: {text})"
    return None


class FIDAccumulator:
    """Collects Inception activations of reference and synthesised images per method, then scores them.

    Create it only when :func:`unavailable_reason` returned None.
    """

    def __init__(self, device: str = "cpu", batch_size: int = 32) -> None:
        import torch
        from pytorch_fid.inception import InceptionV3

        self.torch = torch
        self.device = torch.device(device)
        block = InceptionV3.BLOCK_INDEX_BY_DIM[2048]
        self.model = InceptionV3([block]).to(self.device).eval()
        self.batch_size = batch_size
        self.activations: dict[str, list[np.ndarray]] = {}

    def _features(self, images: np.ndarray) -> np.ndarray:
        torch = self.torch
        feats = []
        with torch.no_grad():
            for start in range(0, len(images), self.batch_size):
                x = torch.from_numpy(np.asarray(images[start : start + self.batch_size], dtype=np.float32))
                x = x[:, None].expand(-1, 3, -1, -1).to(self.device)
                out = self.model(x)[0]
                feats.append(out.squeeze(-1).squeeze(-1).cpu().numpy())
        return np.concatenate(feats, axis=0)

    def add(self, method: str, velocity: np.ndarray, venc: np.ndarray) -> None:
        """Add the maps of one slice ([T, 3, H, W] cm/s) under ``method`` (the reference too)."""
        unit = np.clip(velocity / venc_scale(venc), -1, 1) * 0.5 + 0.5
        self.activations.setdefault(method, []).append(self._features(unit.reshape(-1, *unit.shape[-2:])))

    def score(self, reference: str, method: str) -> float | str:
        """FID of ``method`` against ``reference``; a reason string if either has too few images."""
        from pytorch_fid.fid_score import calculate_frechet_distance

        if reference not in self.activations or method not in self.activations:
            return "unavailable: no images with a reference"
        a = np.concatenate(self.activations[reference])
        b = np.concatenate(self.activations[method])
        if len(a) < 2 or len(b) < 2:
            return "unavailable: fewer than 2 images"
        mu_a, mu_b = a.mean(0), b.mean(0)
        sig_a, sig_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        return float(calculate_frechet_distance(mu_a, sig_a, mu_b, sig_b))
