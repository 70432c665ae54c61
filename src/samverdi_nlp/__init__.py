"""samverdi-nlp: code texts about co-creation in the public sector with the SAMVERDI scheme.

Public API (each returns data and prints nothing):

- :func:`load_codebook` – the coding scheme (packaged default or your own TOML)
- :func:`read_annotations` / :func:`write_annotations` – annotation tables ⇄ DataFrame
"""

from samverdi_nlp.annotations import read_annotations, write_annotations
from samverdi_nlp.codebook import Codebook, load_codebook

__version__ = "0.1.0"

__all__ = ["Codebook", "__version__", "load_codebook", "read_annotations", "write_annotations"]
