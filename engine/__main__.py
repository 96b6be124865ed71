"""`python -m engine`: the same as the `scenescope` command."""

import sys

from engine.cli import main

sys.exit(main())
