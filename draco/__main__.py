"""``python -m draco``: see ``draco.cli``."""

import sys

from draco.cli import main

sys.exit(main())
