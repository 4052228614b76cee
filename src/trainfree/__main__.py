"""``python -m trainfree``: the ``trainfree`` command line."""

import sys

from trainfree.launch import main

sys.exit(main())
