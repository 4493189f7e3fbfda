"""Stand-in for the get-pip script that ansible-test caches under ~/.ansible/test/cache/.

ansible-test creates each sanity virtualenv without pip and runs this file (as
``python get_pip_X_Y.py [pip options] pip==X.Y --no-setuptools --no-wheel``) to
install pip. Instead of downloading pip, take the copy that ships with the
interpreter (ensurepip), then let it install the pip version that was asked for
from the package index.
"""

from __future__ import annotations

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main() -> None:
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *args], check=False).returncode)


if __name__ == "__main__":
    main()
