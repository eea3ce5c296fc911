"""Hosts made of Linux network namespaces, for the multi-host test.

:class:`Network` creates a bridge in the root namespace (address ``.1`` of a free private
/24) and one namespace per host, each joined to the bridge by a veth pair (``.2``, ``.3``, …).
The test process stays in the root namespace and reaches every host through the bridge;
hosts reach each other the same way. :meth:`Network.cut` / :meth:`Network.restore` take a
host's link down and up (the host is then unreachable, as if its cable were pulled).

A host may also have a *local disk*: :meth:`Host.popen` with ``disk=(real, seen)`` runs the
command in a mount namespace of its own where ``real`` is bind-mounted over ``seen``, so the
same path names a different folder on each host, as on real machines (the root namespace
sees every host's disk at its ``real`` path; nothing propagates back).

Everything is torn down by :meth:`Network.close`: the processes this object started (their
whole process trees, by pid), the namespaces, the bridge.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shlex
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here (None: they can): tries ``ip netns add``."""
    if os.geteuid() != 0:
        return "not root: `ip netns add` needs CAP_SYS_ADMIN"
    name = f"cirahub-probe-{uuid.uuid4().hex[:6]}"
    try:
        done = _ip("netns", "add", name, check=False)
    except FileNotFoundError:
        return "iproute2 (`ip`) is not installed"
    if done.returncode != 0:
        return f"`ip netns add` failed: {done.stderr.strip()}"
    _ip("netns", "del", name, check=False)
    return None


def _free_subnet() -> ipaddress.IPv4Network:
    used = _ip("-4", "route").stdout + _ip("-4", "addr").stdout
    for i in range(200, 250):
        for j in range(0, 250, 7):
            net = ipaddress.IPv4Network(f"10.{i}.{j}.0/24")
            if f"10.{i}.{j}." not in used:
                return net
    raise RuntimeError("no free 10.x.y.0/24 for the test network")


@dataclass
class Host:
    name: str
    netns: str
    ip: str
    veth: str  # the root-namespace end of its link
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def popen(self, argv: list[str], log: Path, *, env: dict[str, str] | None = None,
              disk: tuple[Path, Path] | None = None) -> subprocess.Popen[bytes]:
        """Start ``argv`` on this host (its own session; output to ``log``)."""
        if disk is not None:
            real, seen = disk
            script = (f"mount --bind {shlex.quote(str(real))} {shlex.quote(str(seen))} && "
                      f"exec {shlex.join(argv)}")
            argv = ["unshare", "--mount", "--propagation", "slave", "sh", "-c", script]
        with open(log, "ab") as fh:
            proc = subprocess.Popen(["ip", "netns", "exec", self.netns, *argv], stdout=fh,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append(proc)
        return proc


class Network:
    """A bridge plus one namespace per host name (see the module doc)."""

    def __init__(self, names: list[str]) -> None:
        self.tag = uuid.uuid4().hex[:5]
        self.net = _free_subnet()
        hosts = list(self.net.hosts())
        self.bridge = f"cb{self.tag}"
        self.hosts: dict[str, Host] = {}
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{hosts[0]}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for i, name in enumerate(names, start=1):
                self._add_host(name, str(hosts[i]), i)
        except BaseException:
            self.close()
            raise

    @property
    def gateway(self) -> str:
        return str(next(self.net.hosts()))

    def _add_host(self, name: str, ip: str, i: int) -> None:
        netns, outer, inner = f"cirahub-{self.tag}-{name}", f"cv{self.tag}{i}", f"ci{self.tag}{i}"
        _ip("netns", "add", netns)
        self.hosts[name] = Host(name, netns, ip, outer)
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", netns)
        _ip("link", "set", outer, "master", self.bridge)
        _ip("link", "set", outer, "up")
        _ip("-n", netns, "addr", "add", f"{ip}/24", "dev", inner)
        _ip("-n", netns, "link", "set", inner, "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "route", "add", "default", "via", self.gateway)

    def cut(self, name: str) -> None:
        """Pull the host's cable: its link to the bridge goes down."""
        _ip("link", "set", self.hosts[name].veth, "down")

    def restore(self, name: str) -> None:
        _ip("link", "set", self.hosts[name].veth, "up")

    def close(self) -> None:
        """Stop every process started on the hosts (whole trees), remove namespaces and the
        bridge. Safe to call twice and after a partial set-up."""
        stop_trees([p for host in self.hosts.values() for p in host.procs])
        for host in self.hosts.values():
            _ip("netns", "del", host.netns, check=False)
            _ip("link", "del", host.veth, check=False)
        _ip("link", "del", self.bridge, check=False)


def stop_tree(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM ``proc`` and every process below it, then SIGKILL what is left."""
    stop_trees([proc], timeout)


def stop_trees(procs: list[subprocess.Popen[bytes]], timeout: float = 10.0) -> None:
    """:func:`stop_tree` for several processes at once (one shared wait: Ray's nodes take up
    to 30 s each to drain on SIGTERM, which a torn-down test does not need)."""
    tree: list[psutil.Process] = []
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            top = psutil.Process(proc.pid)
            tree += [top, *top.children(recursive=True)]
    for p in tree:
        with contextlib.suppress(psutil.Error):
            p.send_signal(signal.SIGTERM)
    _gone, alive = psutil.wait_procs(tree, timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=timeout)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def wait_for(check: object, timeout: float, what: str, interval: float = 0.5) -> None:
    """Poll ``check()`` until true (bounded): things that happen on their own (a node marked
    dead, a spoke re-assigned). Raises AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception as exc:  # a server still starting, a host still cut off
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
