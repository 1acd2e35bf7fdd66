"""Auxiliary discriminator heads on the shared trunk: AC-GAN's classifier and InfoGAN's Q network."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax


class AuxiliaryHeads(nn.Module):
    """Heads on a discriminator's last hidden features ``h`` (flattened per example); returns a dict.

    - ``num_classes``: ``"class_logits"`` ``(B, num_classes)``, one dense layer (AC-GAN, Odena et al.
      2017, Sec. 3: D has a second, softmax output over the classes).
    - ``categorical_codes`` / ``continuous_codes``: InfoGAN's Q (Chen et al. 2016, App. C.1: "Q shares
      all convolutional layers with D", then FC 128 - BN - leaky ReLU - FC output): ``"code_logits"``
      ``(B, sum K_i)``, ``"code_mean"`` and ``"code_log_std"`` ``(B, n)`` of a factored Gaussian.
    """

    num_classes: int | None = None
    categorical_codes: Sequence[int] = ()
    continuous_codes: int = 0
    q_hidden: int = 128
    negative_slope: float = 0.1
    axis_name: str | None = None

    @nn.compact
    def __call__(self, h: jax.Array, train: bool = True) -> dict[str, jax.Array]:
        flat = h.reshape(h.shape[0], -1)
        out = {}
        if self.num_classes is not None:
            out["class_logits"] = nn.Dense(self.num_classes, name="class_head")(flat)
        num_categorical = sum(self.categorical_codes)
        if num_categorical or self.continuous_codes:
            q = nn.Dense(self.q_hidden, use_bias=False, name="q_hidden")(flat)
            q = nn.BatchNorm(
                use_running_average=not train,
                momentum=0.9,
                epsilon=1e-5,
                axis_name=self.axis_name,
                name="q_bn",
            )(q)
            q = nn.leaky_relu(q, self.negative_slope)
            if num_categorical:
                out["code_logits"] = nn.Dense(num_categorical, name="q_code_logits")(q)
            if self.continuous_codes:
                out["code_mean"] = nn.Dense(self.continuous_codes, name="q_code_mean")(q)
                out["code_log_std"] = nn.Dense(self.continuous_codes, name="q_code_log_std")(q)
        return out
