"""PacGAN packing for any discriminator (Lin et al. 2018, "PacGAN: The power of two samples in generative
adversarial networks", Sec. 3).

The packed discriminator ``D((x_1, ..., x_m))`` judges ``m`` samples at once, all real or all generated,
and returns one logit per pack: PacGAN minimises the usual losses over packs of ``m`` i.i.d. draws,
``min_G max_D E[log D(x_1, ..., x_m)] + E[log(1 - D(G(z_1), ..., G(z_m)))]``, which penalises a
generator that drops modes more than the unpacked game does. The pack is the concatenation of the ``m``
samples along their last (channel or feature) axis, ``(B, ..., C) -> (B / m, ..., m C)``, so only the
discriminator's input layer grows, as in PacGAN's networks. Packs are ``m`` consecutive samples of the
batch; real and generated samples are i.i.d. within a batch, so they are PacGAN's ``m`` independent draws.

``model.pack = m`` wraps the discriminator of any ``model.name`` in :class:`Packed`
(:func:`gans_jax.models.registry.build_networks`); ``train.batch_size`` counts samples, so D sees
``batch_size / m`` packs of real and of generated samples per update.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["Packed", "pack_samples"]


def pack_samples(x: jax.Array, pack: int) -> jax.Array:
    """``(B, ..., C) -> (B / m, ..., m C)``: pack ``i`` is samples ``i m, ..., i m + m - 1`` concatenated
    along the last axis (sample ``j`` of the pack in channels ``j C, ..., j C + C - 1``); 2-D points
    ``(B, 2)`` become ``(B / m, 2 m)``."""
    if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
        raise ValueError(f"the pack size m must be an integer >= 1, got {pack!r}")
    if x.ndim < 2:
        raise ValueError(f"packing needs a batch of samples (B, ..., C), got shape {x.shape}")
    n = x.shape[0]
    if n % pack:
        raise ValueError(
            f"a batch of {n} samples does not split into packs of m={pack} (PacGAN packing, model.pack): "
            f"make the batch a multiple of {pack}"
        )
    x = jnp.moveaxis(x.reshape(n // pack, pack, *x.shape[1:]), 1, -2)  # (B / m, ..., m, C)
    return x.reshape(*x.shape[:-2], pack * x.shape[-1])


class Packed(nn.Module):
    """A discriminator that judges packs of ``pack`` samples (module doc): ``Packed(D, m)(x)`` is
    ``D(pack_samples(x, m))``, ``B / m`` outputs for a batch of ``B``. The inner discriminator's
    parameters and collections are the wrapper's own (``nn.share_scope``): a packed D has the tree of the
    same D built for ``m C`` input channels. Class labels are refused: a pack of samples of different
    classes has no one label."""

    inner: nn.Module
    pack: int

    def setup(self):
        if isinstance(self.pack, bool) or not isinstance(self.pack, int) or self.pack < 1:
            raise ValueError(f"the pack size m must be an integer >= 1, got {self.pack!r}")
        nn.share_scope(self, self.inner)

    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
        if labels is not None:
            raise ValueError(
                f"packing (model.pack={self.pack}) is not defined for a class-conditional discriminator"
            )
        if self.is_initializing() and x.shape[0] % self.pack:
            x = jnp.tile(x, (self.pack,) + (1,) * (x.ndim - 1))  # init fixes shapes only: one whole pack
        return self.inner(pack_samples(x, self.pack), None, train=train)
