"""A small fake MicroPython board on a pseudo-terminal, for link and driver tests.

Run as a process: it creates a pty, prints the slave's path on stdout and then
behaves like MicroPython's console on the master side: a friendly REPL, the raw
REPL (Ctrl-A; ``OK``, output, ``\\x04``, error, ``\\x04``, ``>``), soft reset
(Ctrl-D on an empty raw line), raw-paste refused (``R\\x00``, so mpremote falls
back to the plain raw REPL), Ctrl-C interrupting running code with
KeyboardInterrupt. Code really executes, in CPython, with the pty as its
stdin/stdout — so mpremote's file copy writes files into the working directory
and ``import honch_agent; honch_agent.main()`` runs the real agent. SIGUSR1
simulates a hard reset: running code is abandoned and the boot banner printed.
"""

import errno
import io
import os
import queue
import signal
import sys
import threading
import traceback
import tty

BANNER = b"MicroPython v1.25.0 on 2025-04-15; fake-raw-repl with CPython\r\nType \"help()\" for more information.\r\n"
RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


class HardReset(BaseException):
    pass


class FakeBoard:
    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.executing = False
        self.bytes_in = queue.Queue()
        self.stdin_r, self.stdin_w = os.pipe()
        self.namespace = {}

    def out(self, data: bytes) -> None:
        os.write(self.master, data)

    def _reader(self):
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                os._exit(0)  # the pty is gone: the test finished
            for b in data:
                if b == 0x03 and self.executing:
                    os.kill(os.getpid(), signal.SIGINT)
                    continue
                if self.executing:
                    os.write(self.stdin_w, bytes([b]))
                else:
                    self.bytes_in.put(b)

    def _return_unread_input(self) -> None:
        """Bytes the program did not read stay for the REPL, as in MicroPython's ring buffer."""
        os.set_blocking(self.stdin_r, False)
        unread = b""
        try:
            while True:
                chunk = os.read(self.stdin_r, 4096)
                if not chunk:
                    break
                unread += chunk
        except BlockingIOError:
            pass
        os.set_blocking(self.stdin_r, True)
        if unread:
            later = []
            while not self.bytes_in.empty():
                later.append(self.bytes_in.get_nowait())
            for b in list(unread) + later:
                self.bytes_in.put(b)

    def getc(self) -> int:
        return self.bytes_in.get()

    def execute(self, code: bytes) -> None:
        self.out(b"OK")
        stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(self.stdin_r, "rb", closefd=False)))
        stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(self.master, "wb", closefd=False)),
                                  write_through=True)
        saved = sys.stdin, sys.stdout
        sys.stdin, sys.stdout = stdin, stdout
        error = b""
        self.executing = True
        try:
            exec(compile(code.decode(), "<stdin>", "exec"), self.namespace)
        except HardReset:
            raise
        except OSError as exc:  # MicroPython prints every OSError as "OSError: [Errno N] ENAME"
            name = errno.errorcode.get(exc.errno, str(exc.errno))
            error = f"Traceback (most recent call last):\r\nOSError: [Errno {exc.errno}] {name}\r\n".encode()
        except BaseException:
            error = traceback.format_exc().replace("\n", "\r\n").encode()
        finally:
            self.executing = False
            sys.stdin, sys.stdout = saved
            stdout.flush()
            self._return_unread_input()
        self.out(b"\x04" + error + b"\x04")

    def raw_repl(self) -> None:
        self.out(RAW_PROMPT)
        line = bytearray()
        while True:
            c = self.getc()
            if c == 0x01:
                line.clear()
                self.out(b"\r\n" + RAW_PROMPT)
            elif c == 0x02:
                self.out(b"\r\n" + BANNER + b">>> ")
                return
            elif c == 0x03:
                line.clear()
            elif c == 0x05 and not line:
                self.getc()  # "A"
                self.getc()  # Ctrl-A
                self.out(b"R\x00")  # raw paste understood but not supported
            elif c == 0x04:
                if not line:
                    self.out(b"OK\r\nMPY: soft reboot\r\n")
                    self.namespace = {}
                    self.out(RAW_PROMPT)
                    continue
                self.execute(bytes(line))
                line.clear()
                self.out(b">")
            else:
                line.append(c)

    def friendly_repl(self) -> None:
        while True:
            c = self.getc()
            if c == 0x01:
                self.out(b"\r\n")
                self.raw_repl()
            elif c in (0x03, 0x0D):
                self.out(b"\r\n>>> ")
            elif c == 0x04:
                self.out(b"MPY: soft reboot\r\n" + BANNER + b">>> ")

    def run(self) -> None:
        def hard_reset(signum, frame):
            raise HardReset()

        signal.signal(signal.SIGUSR1, hard_reset)
        threading.Thread(target=self._reader, daemon=True).start()
        print(os.ttyname(self.slave), flush=True)
        self.out(BANNER + b">>> ")
        while True:
            try:
                self.friendly_repl()
            except HardReset:
                self.executing = False
                self.namespace = {}
                self.out(b"\r\n" + BANNER + b">>> ")
            except KeyboardInterrupt:
                pass  # Ctrl-C between programs


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # like MicroPython: files copied to the board import first
    FakeBoard().run()
