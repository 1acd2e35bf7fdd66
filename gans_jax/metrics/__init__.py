"""Evaluation metrics: mode coverage on toy mixtures, digit class agreement, FID/IS and friends."""
