"""Data: load tables, images and sequences into a :class:`Dataset`, preprocess per split,
built-in data sets. Image and sequence sources (``idx:``, ``npz:``, ``images:``, ``seq:``) are
described in :mod:`reglab.data.arrays` and :mod:`reglab.data.sequences`.

>>> import numpy as np
>>> from reglab.data import Preprocessor, load_source
>>> ds = load_source("builtin:iris")
>>> Preprocessor.for_dataset(ds).fit_transform(ds.X, rows=np.arange(100)).shape
(150, 4)
"""

from reglab.data.builtin import BUILTIN, BuiltinInfo, list_builtin, load_builtin, load_source
from reglab.data.load import Dataset, from_arrays, load_table
from reglab.data.preprocess import Preprocessor

__all__ = [
    "BUILTIN",
    "BuiltinInfo",
    "Dataset",
    "Preprocessor",
    "from_arrays",
    "list_builtin",
    "load_builtin",
    "load_source",
    "load_table",
]
