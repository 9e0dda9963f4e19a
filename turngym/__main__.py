"""``python -m turngym`` = the ``turngym`` command (what ``torchrun -m turngym train ...`` runs)."""

from turngym.cli.main import main

if __name__ == "__main__":
    main()
