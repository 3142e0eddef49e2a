"""Async I/O and engines; no Textual. Front-ends consume their events."""

import warnings

# asyncssh imports cryptography's DSA classes at import time and cryptography >= 46 warns
# about them, five lines on stderr in front of every command's output. The console never
# offers or accepts DSA keys; hide exactly that warning, from asyncssh only.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh\.")
