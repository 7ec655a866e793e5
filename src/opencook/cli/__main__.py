"""``python -m opencook.cli``: the same as the ``opencook`` command."""

import sys

from opencook.cli import main

sys.exit(main())
