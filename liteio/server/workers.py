"""Several serving processes on one port, so both cores serve S3.

The parent has already self-tested, formatted the drives and cleaned staging
(``main.prepare``) and holds no threads or event loop. It binds one listening
socket per worker with SO_REUSEPORT (the kernel spreads connections across
them), forks the workers, and then only supervises: it forwards SIGINT and
SIGTERM, and restarts a worker that dies unexpectedly. Workers share
namespace locks through ``ProcessLockTable``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time

from liteio.server.config import Settings

log = logging.getLogger("liteio.server")
RESTART_LIMIT = 5  # unexpected deaths in a row before the supervisor gives up
RESTART_WINDOW = 60.0


def listening_socket(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Inherited by accepted connections: small responses must not wait for Nagle.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _worker_main(settings: Settings, plan: object, sock: socket.socket, index: int,
                 count: int) -> None:
    from liteio.server.main import StartupError, _runner, serve_worker

    code = 0
    try:
        _runner()(serve_worker(settings, plan, f"fd://{sock.fileno()}",  # type: ignore[arg-type]
                               index=index, workers=count))
    except StartupError as exc:
        print(f"liteio worker {index}: cannot start: {exc}", file=sys.stderr, flush=True)
        code = 1
    except BaseException:
        log.exception("worker %d crashed", index)
        code = 1
    finally:
        logging.shutdown()
    os._exit(code)


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _spawn(settings: Settings, plan: object, sock: socket.socket, index: int,
           count: int) -> int:
    # Block stop signals across fork: until the child has dropped the supervisor's
    # handler, a SIGTERM would run that handler in the child instead of stopping it.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    pid = os.fork()
    if pid == 0:  # the worker
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        _worker_main(settings, plan, sock, index, count)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    return pid


def _remove_shared_state(plan: object) -> None:
    """The lock table, generation and heal status live only as long as the workers do."""
    from liteio.server.heal_status import remove_status_files
    from liteio.server.main import shared_state_path

    prefix = shared_state_path(plan.deployment_id, plan.layout)  # type: ignore[attr-defined]
    for suffix in (".locks", ".generation"):
        try:
            os.unlink(prefix + suffix)
        except FileNotFoundError:
            pass
    remove_status_files(prefix)


def supervise(settings: Settings, plan: object, url: str) -> int:
    from liteio.server.main import banner

    count = settings.workers
    sockets = [listening_socket(settings) for _ in range(count)]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    workers: dict[int, int] = {}  # pid -> worker index
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for index in range(count):
        workers[_spawn(settings, plan, sockets[index], index, count)] = index
    print(banner(settings, plan.layout, plan.access_key, plan.secret_key, url),  # type: ignore[attr-defined]
          flush=True)
    deaths: list[float] = []
    failed = False
    while workers:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in workers:
            continue
        index = workers.pop(pid)
        if stopping:
            continue
        code = os.waitstatus_to_exitcode(status)
        now = time.monotonic()
        deaths = [t for t in deaths if now - t < RESTART_WINDOW] + [now]
        if len(deaths) > RESTART_LIMIT:
            print(f"liteio: workers keep dying (last exit {code}); stopping", file=sys.stderr,
                  flush=True)
            failed = True
            stop(signal.SIGTERM, None)
            continue
        print(f"liteio: worker {index} exited ({code}); restarting it", file=sys.stderr,
              flush=True)
        workers[_spawn(settings, plan, sockets[index], index, count)] = index
    for sock in sockets:
        sock.close()
    _remove_shared_state(plan)
    print("liteio stopped", flush=True)
    return 1 if failed else 0
