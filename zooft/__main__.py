"""``python -m zooft`` runs the CLI."""

from zooft.cli import main

if __name__ == "__main__":
    main()
