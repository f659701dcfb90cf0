"""WORKERS=N: one `serve`, N worker processes answering on one listening socket.

The parent binds one socket a worker on HOST:PORT with SO_REUSEPORT (so PORT=0 works: the first
picks the port, and the log line names it), then forks the workers; each serves on its socket
exactly as a single process serves (its own
store connections, broker and lease sweep: the embedded store's change feed, or MongoDB's
change streams, bring every worker every event). The parent only supervises: SIGTERM or SIGINT
stops every worker gracefully, a worker that dies is started again (at most `MAX_RESTARTS` in
`RESTART_WINDOW_S`), and a worker that cannot start at first stops them all, its reason
reported once.

A socket a worker rather than one shared socket: the kernel spreads connections over the
sockets by a hash of their addresses, so a client's keep-alive pool, opened all at once, is
spread too; with one shared socket the worker that wakes first accepts every connection
waiting (measured: 8 keep-alive connections opened together all went to one of 2 workers).
The parent keeps every socket open, so the connections hashed to a worker that died wait in its
socket's queue for its successor instead of being refused; once stopping, it closes them all.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn

from server.observability import logs
from server.settings import Settings

logger = logging.getLogger("outdial.workers")

MAX_RESTARTS = 10
RESTART_WINDOW_S = 60.0
BACKLOG = 2048  # uvicorn's default
# After SHUTDOWN_TIMEOUT_S, what a worker may still take to close its store before it is killed.
STOP_MARGIN_S = 10.0
_POLL_S = 1.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1
_READY = "ready"
_FAILED = "failed"

Ready = Callable[[], None]
Worker = Callable[[socket.socket, Ready], int]
"""Serves on the socket until told to stop, calls `ready` once serving; returns the exit status.
Raises CannotServe when it cannot start."""


class CannotServe(Exception):
    """`serve` cannot start; the command line reports it in one line and exits `status`."""

    def __init__(self, message: str, *, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def supervise(settings: Settings, worker: Worker) -> int:
    """Run `settings.workers` processes of `worker` on one socket until SIGTERM or SIGINT; the
    exit status: 0 when every worker stopped cleanly."""
    listeners: list[socket.socket] = []
    try:
        for _ in range(settings.workers):
            port = listeners[0].getsockname()[1] if listeners else settings.port
            listeners.append(listen(settings.host, port))
        return _Supervisor(settings, worker, listeners).run()
    finally:
        for listener in listeners:
            listener.close()


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port that others of this user may bind too (SO_REUSEPORT)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise CannotServe(f"cannot listen on {host}:{port} ({error.strerror or error})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise CannotServe(f"cannot listen on {host}:{port} ({error.strerror or error})") from None
    return sock


@dataclass
class _Child:
    number: int
    pid: int
    reports: int  # the read end of the pipe the worker reports on; -1 once it closed
    ready: bool = False
    failure: CannotServe | None = None
    unread: bytes = b""


class _Supervisor:
    def __init__(self, settings: Settings, worker: Worker, listeners: list[socket.socket]) -> None:
        self._settings = settings
        self._worker = worker
        self._listeners = listeners  # worker n serves on listeners[n - 1]
        self._children: dict[int, _Child] = {}
        self._restarts: deque[float] = deque()
        self._serving = False
        self._stop_deadline: float | None = None
        self._failure: CannotServe | None = None
        self._clean = True
        self._wake_read, self._wake_write = os.pipe()

    def run(self) -> int:
        for fd in (self._wake_read, self._wake_write):
            os.set_blocking(fd, False)
        previous = {
            signum: signal.signal(signum, _noted) for signum in (*_STOP_SIGNALS, signal.SIGCHLD)
        }
        previous_wakeup = signal.set_wakeup_fd(self._wake_write, warn_on_full_buffer=False)
        try:
            for number in range(1, self._settings.workers + 1):
                self._start(number)
            while self._children:
                self._wait()
                self._hear_signals()
                for child in list(self._children.values()):
                    self._read(child)
                self._reap()
                self._kill_when_overdue()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(self._wake_read)
            os.close(self._wake_write)
        if self._failure is not None:
            raise self._failure
        logger.info("all workers stopped")
        return 0 if self._clean else 1

    def _start(self, number: int) -> None:
        reports, reporting = os.pipe()
        parent = os.getpid()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, (*_STOP_SIGNALS, signal.SIGCHLD))
        try:
            pid = os.fork()
            if pid == 0:
                os.close(reports)
                self._become_worker(number, reporting, mask, parent)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(reporting)
        self._children[pid] = _Child(number, pid, reports)

    def _become_worker(
        self, number: int, reporting: int, mask: Iterable[int], parent: int
    ) -> NoReturn:
        status = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # A terminal's Ctrl-C reaches every worker directly once uvicorn listens for it;
            # before that, the parent's SIGTERM stops a worker still starting.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for fd in (self._wake_read, self._wake_write, *self._report_fds()):
                os.close(fd)
            listener = self._listeners[number - 1]
            for other in self._listeners:
                if other is not listener:
                    other.close()
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            _stop_with_parent(parent)
            logs.configure(self._settings.log_level, self._settings.log_format, worker=number)
            status = self._worker(listener, lambda: _report(reporting, _READY))
        except CannotServe as error:
            _report(reporting, f"{_FAILED} {error.status} {error}")
            status = error.status
        except SystemExit as exit:
            status = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            logger.exception("worker %d failed", number)
        finally:
            os._exit(status)

    def _report_fds(self) -> list[int]:
        return [child.reports for child in self._children.values() if child.reports >= 0]

    def _wait(self) -> None:
        with contextlib.suppress(InterruptedError):
            select.select([self._wake_read, *self._report_fds()], [], [], _POLL_S)

    def _hear_signals(self) -> None:
        try:
            heard = os.read(self._wake_read, 256)
        except BlockingIOError:
            return
        if any(signum in _STOP_SIGNALS for signum in heard) and self._stop_deadline is None:
            logger.info("stopping %d worker(s)", len(self._children))
            self._stop()

    def _read(self, child: _Child, *, until_closed: bool = False) -> None:
        while child.reports >= 0:
            readable, _, _ = select.select([child.reports], [], [], None if until_closed else 0)
            if not readable:
                return
            data = os.read(child.reports, 4096)
            if not data:
                os.close(child.reports)
                child.reports = -1
                return
            child.unread += data
            while b"\n" in child.unread:
                line, _, child.unread = child.unread.partition(b"\n")
                self._heard(child, line.decode(errors="replace"))

    def _heard(self, child: _Child, line: str) -> None:
        if line == _READY:
            child.ready = True
            if self._serving:
                logger.info("worker %d serving again (pid %d)", child.number, child.pid)
            elif all(c.ready for c in self._children.values()):
                self._serving = True
                host, port = self._listeners[0].getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                pids = ", ".join(str(pid) for pid in self._children)
                logger.info("serving on http://%s:%d, workers' pids %s", shown, port, pids)
        elif line.startswith(_FAILED):
            _, status, message = line.split(" ", 2)
            child.failure = CannotServe(message, status=int(status))

    def _reap(self) -> None:
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self._children.pop(pid, None)
            if child is not None:
                self._read(child, until_closed=True)
                self._ended(child, os.waitstatus_to_exitcode(wait_status))

    def _ended(self, child: _Child, code: int) -> None:
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited ({code})"
        if self._stop_deadline is not None:
            if code not in (0, -signal.SIGTERM) and self._failure is None:
                self._clean = False
                logger.warning("worker %d (pid %d) %s while stopping", child.number, child.pid, how)
            return
        if not self._serving:
            self._failure = child.failure or CannotServe(
                f"worker {child.number} {how} before it was serving; see the log above"
            )
            self._stop()
            return
        reason = f": {child.failure}" if child.failure else ""
        if not self._may_restart():
            logger.error(
                "worker %d (pid %d) %s%s; %d restarts within %g s already, stopping",
                *(child.number, child.pid, how, reason, MAX_RESTARTS, RESTART_WINDOW_S),
            )
            self._clean = False
            self._stop()
            return
        logger.error(
            "worker %d (pid %d) %s%s; starting another", child.number, child.pid, how, reason
        )
        self._start(child.number)

    def _may_restart(self) -> bool:
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW_S:
            self._restarts.popleft()
        if len(self._restarts) >= MAX_RESTARTS:
            return False
        self._restarts.append(now)
        return True

    def _stop(self) -> None:
        for listener in self._listeners:
            listener.close()  # new connections are refused, as a single process refuses them
        self._stop_deadline = time.monotonic() + self._settings.shutdown_timeout_s + STOP_MARGIN_S
        self._signal_all(signal.SIGTERM)

    def _kill_when_overdue(self) -> None:
        if self._stop_deadline is not None and time.monotonic() > self._stop_deadline:
            logger.error("%d worker(s) did not stop in time; killing them", len(self._children))
            self._clean = False
            self._signal_all(signal.SIGKILL)
            self._stop_deadline = float("inf")

    def _signal_all(self, signum: int) -> None:
        for pid in self._children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)


def _noted(signum: int, frame: object) -> None:
    """The signal's number reaches the supervisor's loop through the wakeup fd."""


def _report(fd: int, line: str) -> None:
    os.write(fd, line.replace("\n", " ").encode() + b"\n")


def _stop_with_parent(parent: int) -> None:
    """A worker outliving its parent (killed with -9) would hold the port: on Linux, the kernel
    sends it SIGTERM when the parent dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
