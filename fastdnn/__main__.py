"""``python -m fastdnn``: the fastdnn command line (see fastdnn.cli)."""
import sys

from fastdnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
