"""The app with one fault injected into its worker: the row about order POISON_ORDER kills the process.

Stands for a row that takes its worker down every time (a crash in a library, the OOM killer on a huge
body). Everything else is the real worker, claim, lease and dispatch. Used as FLASK_APP by test_poison_row.
"""

from __future__ import annotations

import os
import signal

from app import create_app as create_real_app
from app import dispatch
from app.jobs import cli as jobs_cli

POISON_ORDER = "939999"


def create_app():
    app = create_real_app()

    def handle(session, row):
        if row.resource_id == POISON_ORDER:
            os.kill(os.getpid(), signal.SIGKILL)
        return dispatch.dispatch(session, row)

    jobs_cli.init_app(app, handle=handle, periodic=dispatch.periodic)  # `flask worker` runs `handle`
    return app
