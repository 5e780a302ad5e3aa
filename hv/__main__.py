"""`python -m hv` is `hv`."""
import sys

from hv.cli import main

sys.exit(main())
