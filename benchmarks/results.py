"""``benchmarks/RESULTS.md`` sections: the one writer every benchmark's ``--record`` uses."""

from __future__ import annotations

import os
import re

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def record_section(section: str, text: str, path: str = RESULTS) -> None:
    """Replaces the section headed ``section`` (up to the next ``## `` heading) with ``text``, or appends
    ``text`` when there is no such section; every other section is kept as it is."""
    content = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(content):
        content = pattern.sub(lambda _: text.rstrip() + "\n\n", content, count=1)
    else:
        content = content.rstrip() + "\n\n" + text.rstrip() + "\n"
    with open(path, "w") as f:
        f.write(content.rstrip() + "\n")
