"""`python -m app [VIDEO]`: start the desktop app (what `scenescope` runs)."""

import sys

from app.main import main

sys.exit(main())
