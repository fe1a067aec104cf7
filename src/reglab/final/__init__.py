"""The final model: train the chosen strategy on all the data, save it, load it, predict.

``reglab.fit_final(data, target=..., strategy=...)`` trains it (:mod:`reglab.final.fit`), a
:class:`FinalModel` predicts and saves it (:mod:`reglab.final.model`), ``reglab.load(path)``
reads it back (:mod:`reglab.final.modelfile` states the file format and its checks), and
:mod:`reglab.final.inputs` says how new rows are read.
"""

from reglab.final.fit import fit_final
from reglab.final.inputs import Rows
from reglab.final.model import FinalModel, load
from reglab.final.modelfile import ModelFileError

__all__ = ["FinalModel", "ModelFileError", "Rows", "fit_final", "load"]
