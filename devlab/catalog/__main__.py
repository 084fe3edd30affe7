"""`python -m devlab.catalog`: run the prepuller (see devlab.catalog.prepull.main)."""

import sys

from devlab.catalog.prepull import main

sys.exit(main())
