"""File commands of the simulated host's shell: cat, test/[, stat, ls, head, wc, grep, sha256sum/md5sum, rm, df.

Mixed into :class:`runners.sim.shell.Shell`, which provides ``ctx``, ``local()``, ``abspath()``
and ``may_write()``. Output mimics GNU coreutils closely enough for scripts that parse it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat as stat_mod
import time
from datetime import datetime
from pathlib import Path
NL = b"\n"


class FileCommands:
    def _file(self, p: str) -> Path | None:
        lp = self.local(p)
        return lp if lp is not None and lp.exists() else None

    async def cmd_cat(self, args, io, stdin) -> int:
        files = [a for a in args if not a.startswith("-") or a == "-"]
        if not files:
            io.out(stdin)
            return 0
        status = 0
        for p in files:
            if p == "-":
                io.out(stdin)
                continue
            lp = self._file(p)
            if lp is None:
                io.err(f"cat: {p}: No such file or directory\n".encode())
                status = 1
            elif lp.is_dir():
                io.err(f"cat: {p}: Is a directory\n".encode())
                status = 1
            else:
                with open(lp, "rb") as f:
                    while chunk := f.read(1 << 16):
                        io.out(chunk)
                        await io.drain()
                        if io.closed:
                            return 1
        return status

    async def cmd_test(self, args, io, stdin) -> int:
        if not args:
            return 1
        if args[0] == "!":
            return 1 - await self.cmd_test(args[1:], io, stdin)
        if len(args) == 1:
            return 0 if args[0] else 1
        if len(args) == 3 and args[1] in ("=", "==", "!="):
            return 0 if (args[0] == args[2]) == (args[1] != "!=") else 1
        if len(args) != 2 or not re.fullmatch(r"-[fdesrwx]", args[0]):
            io.err(f"bash: test: {' '.join(args)}: unary operator expected\n".encode())
            return 2
        op, p = args
        if self.abspath(p).startswith("/dev/"):
            exists = self.abspath(p) in self.ctx.camera_devices()
            return 0 if exists and op in ("-e", "-r", "-w") else 1
        lp = self._file(p)
        if lp is None:
            return 1
        ok = {"-e": True, "-f": lp.is_file(), "-d": lp.is_dir(), "-s": lp.is_file() and lp.stat().st_size > 0,
              "-r": True, "-w": self.may_write(p), "-x": lp.is_dir()}[op]
        return 0 if ok else 1

    async def cmd_bracket(self, args, io, stdin) -> int:  # `[ -f FILE ]`
        if not args or args[-1] != "]":
            io.err(b"bash: [: missing `]'\n")
            return 2
        return await self.cmd_test(args[:-1], io, stdin)

    async def cmd_stat(self, args, io, stdin) -> int:
        fmt = None
        files: list[str] = []
        it = iter(args)
        for a in it:
            if a in ("-c", "--format", "--printf"):
                fmt = next(it, "")
                if a != "--printf":
                    fmt += "\n"
            elif a.startswith("--format="):
                fmt = a.split("=", 1)[1] + "\n"
            elif a.startswith("-c") and len(a) > 2:
                fmt = a[2:] + "\n"
            elif a in ("-L", "--dereference", "-t"):
                continue
            else:
                files.append(a)
        if not files:
            io.err(b"stat: missing operand\nTry 'stat --help' for more information.\n")
            return 1
        status = 0
        for p in files:
            lp = self._file(p)
            if lp is None:
                io.err(f"stat: cannot statx '{p}': No such file or directory\n".encode())
                status = 1
                continue
            st = lp.stat()
            if fmt is None:
                io.out(_stat_default(p, st).encode())
            else:
                io.out(_stat_format(fmt, p, st).encode())
        return status

    async def cmd_ls(self, args, io, stdin) -> int:
        opts = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
        paths = [a for a in args if not a.startswith("-")] or ["."]
        long, all_ = "l" in opts, "a" in opts
        status = 0
        for idx, p in enumerate(paths):
            host = self.abspath(p)
            if host.startswith("/dev/") and not any(c in p for c in "*?["):
                if host in self.ctx.camera_devices():
                    io.out((_dev_long(host) if long else f"{p}\n").encode())
                    continue
            lp = self._file(p) if not host.startswith("/dev/") else None
            if lp is None:
                io.err(f"ls: cannot access '{p}': No such file or directory\n".encode())
                status = 2
                continue
            if lp.is_dir():
                names = sorted(os.listdir(lp))
                if not all_:
                    names = [n for n in names if not n.startswith(".")]
                if len(paths) > 1:
                    io.out(f"{'' if idx == 0 else chr(10)}{p}:\n".encode())
                if long:
                    io.out(f"total {len(names) * 4}\n".encode())
                for n in names:
                    io.out((_long(n, (lp / n).lstat()) if long else f"{n}\n").encode())
            else:
                io.out((_long(p, lp.stat()) if long else f"{p}\n").encode())
        return status

    async def cmd_head(self, args, io, stdin) -> int:
        n, files = _count_arg(args, 10)
        data = stdin
        if files:
            lp = self._file(files[0])
            if lp is None:
                io.err(f"head: cannot open '{files[0]}' for reading: No such file or directory\n".encode())
                return 1
            data = lp.read_bytes()
        io.out(b"".join(data.splitlines(keepends=True)[:n]))
        return 0

    async def cmd_wc(self, args, io, stdin) -> int:
        files = [a for a in args if not a.startswith("-")]
        data = stdin
        label = ""
        if files:
            lp = self._file(files[0])
            if lp is None:
                io.err(f"wc: {files[0]}: No such file or directory\n".encode())
                return 1
            data, label = lp.read_bytes(), f" {files[0]}"
        if "-l" in args:
            io.out(f"{data.count(NL)}{label}\n".encode())
        elif "-c" in args:
            io.out(f"{len(data)}{label}\n".encode())
        else:
            io.out(f"{data.count(NL)} {len(data.split())} {len(data)}{label}\n".encode())
        return 0

    async def cmd_grep(self, args, io, stdin) -> int:
        flags = [a for a in args if a.startswith("-")]
        rest = [a for a in args if not a.startswith("-")]
        if not rest:
            io.err(b"Usage: grep [OPTION]... PATTERNS [FILE]...\n")
            return 2
        pattern, files = rest[0], rest[1:]
        data = stdin
        if files:
            lp = self._file(files[0])
            if lp is None:
                io.err(f"grep: {files[0]}: No such file or directory\n".encode())
                return 2
            data = lp.read_bytes()
        try:
            rx = re.compile(pattern.encode(), re.IGNORECASE if "-i" in flags else 0)
        except re.error as e:
            io.err(f"grep: {e}\n".encode())
            return 2
        hits = [ln for ln in data.splitlines(keepends=True) if bool(rx.search(ln)) != ("-v" in flags)]
        if "-c" in flags:
            io.out(f"{len(hits)}\n".encode())
        elif "-q" not in flags:
            io.out(b"".join(h if h.endswith(b"\n") else h + b"\n" for h in hits))
        return 0 if hits else 1

    async def cmd_sha256sum(self, args, io, stdin) -> int:
        return self._digest("sha256sum", hashlib.sha256, args, io)

    async def cmd_md5sum(self, args, io, stdin) -> int:
        return self._digest("md5sum", hashlib.md5, args, io)

    def _digest(self, tool, algo, args, io) -> int:
        status = 0
        for p in [a for a in args if not a.startswith("-")]:
            lp = self._file(p)
            if lp is None or lp.is_dir():
                io.err(f"{tool}: {p}: {'Is a directory' if lp else 'No such file or directory'}\n".encode())
                status = 1
                continue
            h = algo()
            with open(lp, "rb") as f:
                while chunk := f.read(1 << 16):
                    h.update(chunk)
            io.out(f"{h.hexdigest()}  {p}\n".encode())
        return status

    async def cmd_rm(self, args, io, stdin) -> int:
        force = any(a.startswith("-") and "f" in a for a in args)
        status = 0
        for p in [a for a in args if not a.startswith("-")]:
            lp = self._file(p)
            if lp is None:
                if not force:
                    io.err(f"rm: cannot remove '{p}': No such file or directory\n".encode())
                    status = 1
            elif lp.is_dir():
                io.err(f"rm: cannot remove '{p}': Is a directory\n".encode())
                status = 1
            elif not self.may_write(p):
                io.err(f"rm: cannot remove '{p}': Permission denied\n".encode())
                status = 1
            else:
                lp.unlink()
        return status

    async def cmd_df(self, args, io, stdin) -> int:
        human = any("h" in a for a in args if a.startswith("-"))
        paths = [a for a in args if not a.startswith("-")] or ["/"]
        io.out(b"Filesystem      Size  Used Avail Use% Mounted on\n" if human else
               b"Filesystem     1K-blocks    Used Available Use% Mounted on\n")
        for p in paths:
            lp = self._file(p)
            if lp is None:
                io.err(f"df: {p}: No such file or directory\n".encode())
                return 1
            u = shutil.disk_usage(lp)
            pct = f"{round(100 * u.used / u.total) if u.total else 0}%"
            if human:
                io.out(f"/dev/sda2       {_human(u.total):>4}  {_human(u.used):>4}  {_human(u.free):>4} {pct:>4} /\n"
                       .encode())
            else:
                io.out(f"/dev/sda2      {u.total // 1024:>9} {u.used // 1024:>7} {u.free // 1024:>9} {pct:>4} /\n"
                       .encode())
        return 0


def _count_arg(args: list[str], default: int) -> tuple[int, list[str]]:
    n, files = default, []
    it = iter(args)
    for a in it:
        if a == "-n":
            n = int(next(it, str(default)))
        elif re.fullmatch(r"-n?\d+", a):
            n = int(a.lstrip("-n"))
        else:
            files.append(a)
    return n, files


def _mode_string(mode: int) -> str:
    return stat_mod.filemode(mode)


def _long(name: str, st: os.stat_result) -> str:
    mtime = datetime.fromtimestamp(st.st_mtime)
    when = mtime.strftime("%b %e %H:%M") if abs(time.time() - st.st_mtime) < 182 * 86400 else mtime.strftime("%b %e  %Y")
    return f"{_mode_string(st.st_mode)} {st.st_nlink:>2} camsvc camsvc {st.st_size:>9} {when} {name}\n"


def _dev_long(dev: str) -> str:
    n = int(re.sub(r"\D", "", dev) or 0)
    when = datetime.now().strftime("%b %e %H:%M")
    return f"crw-rw----+ 1 root video 81, {n:>2} {when} {dev}\n"


def _stat_default(p: str, st: os.stat_result) -> str:
    kind = "directory" if stat_mod.S_ISDIR(st.st_mode) else ("regular empty file" if st.st_size == 0
                                                              else "regular file")
    t = lambda v: datetime.fromtimestamp(v).astimezone().strftime("%Y-%m-%d %H:%M:%S.%f000 %z")  # noqa: E731
    return (f"  File: {p}\n  Size: {st.st_size:<15} Blocks: {st.st_blocks:<10} IO Block: 4096   {kind}\n"
            f"Device: {st.st_dev:x}h/{st.st_dev}d\tInode: {st.st_ino:<11} Links: {st.st_nlink}\n"
            f"Access: ({stat_mod.S_IMODE(st.st_mode):04o}/{_mode_string(st.st_mode)})  Uid: ( 1000/  camsvc)"
            f"   Gid: ( 1000/  camsvc)\nAccess: {t(st.st_atime)}\nModify: {t(st.st_mtime)}\n"
            f"Change: {t(st.st_ctime)}\n Birth: -\n")


def _stat_format(fmt: str, p: str, st: os.stat_result) -> str:
    def sub(m: re.Match) -> str:
        c = m.group(1)
        if c == "%":
            return "%"
        mt = datetime.fromtimestamp(st.st_mtime).astimezone()
        table = {
            "s": str(st.st_size), "Y": str(int(st.st_mtime)), "X": str(int(st.st_atime)), "Z": str(int(st.st_ctime)),
            "n": p, "N": f"'{p}'", "a": f"{stat_mod.S_IMODE(st.st_mode):o}", "A": _mode_string(st.st_mode),
            "F": "directory" if stat_mod.S_ISDIR(st.st_mode) else
                 ("regular empty file" if st.st_size == 0 else "regular file"),
            "y": mt.strftime("%Y-%m-%d %H:%M:%S.") + f"{st.st_mtime_ns % 1_000_000_000:09d}" + mt.strftime(" %z"),
            "i": str(st.st_ino), "U": "camsvc", "G": "camsvc", "u": "1000", "g": "1000", "b": str(st.st_blocks),
            "h": str(st.st_nlink),
        }
        if c == ".Y":
            return f"{st.st_mtime:.9f}"
        return table.get(c, "?")

    text = re.sub(r"%(%|\.Y|[sYXZnNaAFyiUGugbh])", sub, fmt)
    return text.replace("\\n", "\n").replace("\\t", "\t")


def _human(n: int) -> str:
    for unit in ("", "K", "M", "G", "T"):
        if n < 1024:
            return f"{n:.0f}{unit}" if unit == "" or n >= 10 else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f}P"
