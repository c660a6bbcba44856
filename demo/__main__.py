"""``python -m demo --out DIR`` (what ``make demo`` runs): the whole chain, see :mod:`demo.run`."""
import sys

from demo.run import main

sys.exit(main())
