#!/usr/bin/env python3
"""Run dbt as a child that dies with the process that launched it (``restock run``).

dagster-dbt starts dbt with a plain ``subprocess.Popen`` (no ``preexec_fn``), so a SIGKILL of
``restock run`` used to leave its dbt child alive, holding the work DB's write lock: the retry
right after failed (issue 17). The Definitions' ``DbtCliResource`` runs this script as its
``dbt_executable`` instead; it asks Linux to SIGKILL it when its parent dies
(``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``) and then execs the real dbt in place (same
pid, same arguments, same environment). Elsewhere it only execs dbt.

The real dbt is ``$RESTOCK_DBT_EXECUTABLE`` (set by assets/transform.py to the dbt beside the
project's interpreter), else ``dbt`` on PATH. Standard library only: any ``python3`` runs it.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def tie_to_parent() -> bool:
    """Ask for SIGKILL when the parent dies; False when the parent is already gone."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            return True
    # The parent died before the prctl: we were re-parented, nobody waits for us.
    return parent != 1 and os.getppid() == parent


def main() -> None:
    """Tie this process to its parent, then become dbt."""
    dbt = os.environ.get("RESTOCK_DBT_EXECUTABLE") or "dbt"
    if not tie_to_parent():
        sys.exit(137)
    os.execvp(dbt, [dbt, *sys.argv[1:]])  # noqa: S606 - becoming dbt, same arguments


if __name__ == "__main__":
    main()
