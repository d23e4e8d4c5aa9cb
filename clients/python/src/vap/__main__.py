import sys

from vap.cli import main

sys.exit(main())
