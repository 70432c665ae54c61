"""Screening new literature: a relevance ranking that starts from a prior and learns from the reviewer.

- :mod:`~samverdi_nlp.screening.store`: the screening project, one SQLite file (records, decisions, rankings);
- :mod:`~samverdi_nlp.screening.queries`: stateless query strategies (which records to show next);
- :mod:`~samverdi_nlp.screening.ranker`: the ranking refit from the prior plus the reviewer's decisions;
- :mod:`~samverdi_nlp.screening.simulate`: replaying known decisions, WSS and recall;
- :mod:`~samverdi_nlp.screening.stopping`: when to stop and how many relevant records are probably left.
"""
