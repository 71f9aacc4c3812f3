"""`python -m dance2d …` (also what `torchrun -m dance2d train …` runs)."""

import sys

from dance2d.cli import main

sys.exit(main())
