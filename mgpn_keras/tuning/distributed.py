"""`mgpn tune` across processes and machines: keras-tuner's chief-worker mode.

keras-tuner reads three environment variables (docs/tuning.md, "Across machines"):

    KERASTUNER_TUNER_ID     "chief" for the process that runs the oracle; a unique id for
                            each worker ("tuner0", "tuner1", ...)
    KERASTUNER_ORACLE_IP    the chief's address, as the workers reach it
    KERASTUNER_ORACLE_PORT  the port the chief serves the oracle on (gRPC)

The chief trains nothing: it serves the oracle, which hands each worker a trial and records
its result, until every trial has ended; then it writes trials.json and best_config.json
as a one-process search does. A worker asks for trials until the oracle has none left.
The oracle keeps the trial a worker is running under the worker's id, so a worker that dies
and is started again with the same KERASTUNER_TUNER_ID is given that trial again and reruns
it from its start.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

ENVIRONMENT = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
# How often the chief checks whether every worker is done (keras-tuner's own loop: 20 s).
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class TunerRole:
    """What this process is in a search.

    Attributes:
        kind: "single" (the whole search in this process), "chief" or "worker".
        tuner_id: keras-tuner's id of this process ("tuner0" when single).
        address: "ip:port" of the chief's oracle (None when single).
    """

    kind: str
    tuner_id: str
    address: str | None = None


def tuner_role(environ=None) -> TunerRole:
    """The role the KERASTUNER_* variables give this process; ValueError for an incomplete set."""
    environ = os.environ if environ is None else environ
    given = [name for name in ENVIRONMENT if environ.get(name)]
    if not given:
        return TunerRole("single", "tuner0")
    missing = [name for name in ENVIRONMENT if name not in given]
    if missing:
        raise ValueError(f"distributed tuning: {', '.join(given)} set but {', '.join(missing)} not; "
                         f"a chief and its workers need all of {', '.join(ENVIRONMENT)}")
    port = environ["KERASTUNER_ORACLE_PORT"]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"KERASTUNER_ORACLE_PORT = {port!r}: expected a port number, 1 to 65535")
    tuner_id = environ["KERASTUNER_TUNER_ID"]
    # keras-tuner's own test for the chief (distribute.utils.is_chief_oracle).
    kind = "chief" if "chief" in tuner_id else "worker"
    return TunerRole(kind, tuner_id, f"{environ['KERASTUNER_ORACLE_IP']}:{port}")


def serve_oracle(tuner, role: TunerRole, verbose: int = 1) -> None:
    """Serve `tuner`'s oracle to the workers until the search has ended.

    keras-tuner's `Tuner.search` on the chief does the same with a 20 s wait between its
    checks for the end; this one checks every `POLL_SECONDS` and stops the server after.
    The search has ended once a worker was told that no trial is left and no worker still
    runs a trial (a killed worker's trial waits for the worker to come back).
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    tuner.oracle.verbose = verbose
    # not through atomic.py: keras-tuner writes its own oracle and tuner state, as in a search
    tuner.save()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(tuner.oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(role.address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise ValueError(f"cannot serve the tuning oracle at {role.address} (KERASTUNER_ORACLE_IP / "
                         f"KERASTUNER_ORACLE_PORT): not an address of this machine, or the port is in use")
    server.start()
    if verbose:
        print(f"chief: serving the oracle at {role.address}", flush=True)
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(tuner.oracle)):
            time.sleep(POLL_SECONDS)
    finally:
        server.stop(grace=1)
    # The oracle saves itself before it lets go of an ended trial, so its file would still
    # hold the last one as running (and a chief restarted on D would hand it out again).
    # not through atomic.py: keras-tuner's own state files
    tuner.save()
