"""``python -m bench.maxrss OUT -- CMD...``: run CMD, write its peak RSS (KB) to OUT, exit with its code.

The memory benchmark wraps the daemon's crawl child in this, so each cycle's peak is known on its own
(getrusage(RUSAGE_CHILDREN) of this small process covers exactly that one child).
"""

import resource
import subprocess
import sys

if __name__ == "__main__":
    out, cmd = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
    code = subprocess.call(cmd)
    with open(out, "a") as fh:
        fh.write(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
    sys.exit(code)
