"""Generators and discriminators: flax.linen modules holding parameters, no training logic.

Every generator is called as ``generator(z, labels=None, train=True)`` and every discriminator as
``discriminator(x, labels=None, train=True)`` returning one logit per example, shape ``(B,)``.
"""
