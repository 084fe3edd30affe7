"""`python -m devlab.catalog`: run the prepuller (see devlab.catalog.prepull_main.main)."""

import signal
import sys

# Blocked before the slow imports (main blocks it again): a nudge sent while the process
# starts then waits for the first round's end instead of killing it (SIGHUP's default).
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})

from devlab.catalog.prepull_main import main  # noqa: E402

sys.exit(main())
