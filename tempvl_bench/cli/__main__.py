"""``python -m tempvl_bench.cli``: the ``tempvl-bench`` command."""

import sys

from tempvl_bench.cli.app import main

sys.exit(main())
