import sys

from streamtap.cli import main

sys.exit(main())
