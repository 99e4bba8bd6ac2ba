"""Reading and cleaning an import file in a second process while the importer dedups and writes.

Reading a file and cleaning its cells need nothing from the database once the cleaner's
reference tables are loaded, so on a machine that can ``fork`` a child process reads and
cleans batch after batch and hands them over a pipe, while the importing process deduplicates
and writes the batch before. The importing process keeps everything that touches the database
— dedup, decisions, the batch transactions, the resume point, cancelling — so batches, resume
and cancel work as they do without the child.

The pipe holds at most a batch or two: a child that gets ahead waits, so memory stays bounded.
The child never queries the database (an execute wrapper refuses it): it shares the parent's
connection objects after the fork, and a query through them would corrupt the parent's
session. It ends with ``os._exit`` (multiprocessing's way), so nothing it inherited is closed
or flushed twice. When the importing process dies (``kill -9``), the child's next write to the
pipe fails and it ends.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from django.db import connections
from django.utils.translation import gettext as _

from kehu.core.errors import KehuError
from kehu.transfer.cleaning import RowResult

Cells = tuple[int, list[Any]]  # (line in the file, cells)
Batch = tuple[list[Cells], list[RowResult]]
CleanRow = Callable[[int, list[Any]], RowResult]


class ReaderStopped(KehuError):
    status = 500
    code = "reader_stopped"


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def in_batches(items: Iterator[Cells], size: int) -> Iterator[list[Cells]]:
    batch: list[Cells] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _cleaned(rows: Iterator[Cells], clean: CleanRow, size: int) -> Iterator[Batch]:
    for batch in in_batches(rows, size):
        yield batch, [clean(line, cells) for line, cells in batch]


@contextlib.contextmanager
def cleaned_batches(
    rows: Callable[[], Iterator[Cells]], clean: CleanRow, size: int, *, parallel: bool
) -> Iterator[Iterator[Batch]]:
    """Batches of ``size`` rows of ``rows()``, each with its cleaned rows; read and cleaned in
    a child process when ``parallel`` (and the machine can fork), else in this one. Leaving
    the block stops the child."""
    if not (parallel and can_fork()):
        yield _cleaned(rows(), clean, size)
        return
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # else the child would flush the same buffered output again
    child = context.Process(
        target=_read_and_clean,
        args=(receiving, sending, rows, clean, size),
        name="kehu-import-reader",
    )
    child.start()
    sending.close()
    try:
        yield _received(receiving)
    finally:
        receiving.close()
        if child.is_alive():
            child.terminate()
        child.join()


def _received(receiving: Connection) -> Iterator[Batch]:
    while True:
        try:
            message = receiving.recv()
        except EOFError:
            raise ReaderStopped(
                _("The process reading the file stopped unexpectedly; whole batches are imported.")
            ) from None
        kind, payload = message
        if kind == "end":
            return
        if kind == "error":
            raise payload
        yield payload


def _read_and_clean(
    receiving: Connection,
    sending: Connection,
    rows: Callable[[], Iterator[Cells]],
    clean: CleanRow,
    size: int,
) -> None:
    """The child: every batch over the pipe, then ``end``, or the error that stopped it."""
    receiving.close()
    # Ctrl-C reaches the whole process group: the importing process stops this one; and the
    # importing process's own SIGTERM handler (a worker's) must not keep this one running
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for database in connections.all():
        database.execute_wrappers.append(_refuse_queries)
    try:
        for batch in _cleaned(rows(), clean, size):
            sending.send(("batch", batch))
        sending.send(("end", None))
    except (BrokenPipeError, ConnectionResetError):
        return  # the importing process is gone
    except BaseException as error:  # handed to the importing process
        _send_error(sending, error)
    finally:
        sending.close()


def _send_error(sending: Connection, error: BaseException) -> None:
    try:
        sending.send(("error", error))
    except (BrokenPipeError, ConnectionResetError):
        pass
    except Exception:  # the error itself cannot be pickled: its text still reaches the parent
        text = "".join(traceback.format_exception(error))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sending.send(("error", RuntimeError(text)))


def _refuse_queries(*args: Any) -> Any:
    raise RuntimeError("the process reading an import file must not query the database")
