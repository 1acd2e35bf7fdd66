"""Input pipelines: 2-D toy mixtures, scikit-learn digits, image folders and zips, TFDS datasets.

Every source is random access and served through grain by one interface,
:func:`gans_jax.data.pipeline.make_dataset` -> :class:`gans_jax.data.pipeline.Dataset`, whose
``iterator()`` yields this process's share of each global batch as host-local numpy arrays.
"""

from gans_jax.data.pipeline import SOURCES, Dataset, make_dataset, make_source
from gans_jax.data.sources import ArraySource

__all__ = ["SOURCES", "ArraySource", "Dataset", "make_dataset", "make_source"]
