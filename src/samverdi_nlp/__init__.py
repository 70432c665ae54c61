"""samverdi-nlp: code texts about co-creation in the public sector with the SAMVERDI scheme.

Public API (each returns data and prints nothing):

- :func:`load_codebook` – the coding scheme (packaged default or your own TOML)
- :func:`read_annotations` / :func:`write_annotations` – annotation tables ⇄ DataFrame
- :func:`train` – a :class:`CodingModel` from annotation tables; :func:`load_model` – a saved one, safely
- :func:`agreement_report` – reliability statistics for coder tables, as a dict
- :func:`suggest` – codes, scores and evidence for files or texts, as a DataFrame
"""

from samverdi_nlp.agreement import agreement_report
from samverdi_nlp.annotations import read_annotations, write_annotations
from samverdi_nlp.api import train
from samverdi_nlp.codebook import Codebook, load_codebook
from samverdi_nlp.model import CodingModel, load_model
from samverdi_nlp.suggest import suggest

__version__ = "0.1.0"

__all__ = ["Codebook", "agreement_report", "CodingModel", "__version__", "load_codebook", "load_model", "read_annotations", "suggest",
           "train", "write_annotations"]
