"""``python -m trainfree.cli``."""

import sys

from trainfree.cli.app import main

sys.exit(main())
