"""``python -m opencook`` -- what ``torchrun -m opencook xc train ...`` runs on each rank."""

import sys

from opencook.cli import main

sys.exit(main())
