"""``python -m samverdi_nlp`` runs the command-line interface."""

from samverdi_nlp.cli import main

if __name__ == "__main__":
    main()
