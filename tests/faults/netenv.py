#!/usr/bin/python3
"""netenv -- network namespaces, iptables faults and tmpfs disks for the
redis-raft fault suite.

Topology built by :class:`NetEnv` (``n`` nodes, default subnet 10.77.0.0/24)::

    {prefix}-n1  eth0 10.77.0.11/24 --veth-- v1  \\
    {prefix}-n2  eth0 10.77.0.12/24 --veth-- v2   +-- br0 (inside {prefix}-br)
    ...                                           |
    {prefix}-cl  eth0 10.77.0.100/24 --veth-- vcl /

* One network namespace per node, one for the clients, one holding the
  bridge.  Every veth pair is created *directly* inside the namespaces
  (``ip -n BR link add ... peer ... netns NODE``) so nothing ever appears in
  the host's namespace.
* No namespace has a default route (the only routes are the connected /24
  and loopback); IPv6 is disabled in every namespace, so no link-local
  addresses exist either.  The only addresses ever used are the suite's own
  10.X.0.0/24 addresses inside those namespaces, or 127.0.0.0/8.
  Every address handed to a command or to :meth:`NetEnv.connect` is checked
  against that rule (:func:`check_addr`).
* Faults are iptables DROP rules in two dedicated chains per node namespace,
  ``RRFAULT-IN`` (jumped from ``INPUT``, matches ``-s peer``) and
  ``RRFAULT-OUT`` (jumped from ``OUTPUT``, matches ``-d peer``).  The jumps
  are inserted at position 1 and the rules carry no conntrack/state match,
  so *every* packet is dropped, including those of already-established TCP
  connections (the self-test verifies this).  :meth:`NetEnv.heal` just
  flushes the two chains in every node namespace.
* Teardown (:meth:`NetEnv.teardown`) heals, kills every process started via
  :meth:`NetEnv.popen` (and any other process left inside one of the
  namespaces), unmounts every tmpfs it mounted and deletes every namespace.
  It is idempotent, never raises, and is registered with :mod:`atexit`.
  A small state file (``/run/rr-netenv/<prefix>.json``) records what a run
  created so that :func:`cleanup_stale` can remove what a SIGKILLed run left.

Only the Python standard library is used (plus Debian's ``python3-redis``
lazily, in :meth:`NetEnv.redis_connection_class`).

Self-test: ``cd tests/faults && /usr/bin/python3 netenv.py`` (needs root).
"""

import atexit
import contextlib
import ctypes
import ctypes.util
import ipaddress
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

__all__ = [
    "NetEnvUnavailable", "NetEnvError", "available", "NetEnv",
    "check_addr", "cleanup_stale", "install_signal_teardown", "in_netns",
    "CMD_TIMEOUT",
]

log = logging.getLogger("netenv")

#: timeout (seconds) of every ip/iptables/mount subprocess call
CMD_TIMEOUT = 10.0
#: default bounded retries for idempotent commands
CMD_RETRIES = 2

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/var/run/netns"
CHAIN_IN = "RRFAULT-IN"
CHAIN_OUT = "RRFAULT-OUT"
CLIENT = "cl"            # endpoint id of the client namespace

_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class NetEnvUnavailable(Exception):
    """Network namespaces / iptables cannot be used here.

    ``str(e)`` is the stated reason, suitable for ``pytest.skip(str(e))``.
    """


class NetEnvError(RuntimeError):
    """An ip/iptables/mount command failed after the environment was set up."""


# --------------------------------------------------------------------------
# command runner (the one place that spawns ip / iptables / mount / ...)
# --------------------------------------------------------------------------

def _run(argv, *, check=True, timeout=CMD_TIMEOUT, retries=0, input=None):
    """Run ``argv`` (a list, never a shell string) with a timeout.

    Retries up to ``retries`` extra times (bounded) on non-zero exit or
    timeout; only pass ``retries`` for idempotent commands.  Logs at debug
    level.  Returns the CompletedProcess of the last attempt; raises
    :class:`NetEnvError` if ``check`` and every attempt failed.
    """
    argv = [str(a) for a in argv]
    last = None
    attempts = 1 + max(0, int(retries))
    for attempt in range(attempts):
        log.debug("run%s: %s", "" if attempt == 0 else " (retry %d)" % attempt,
                  " ".join(argv))
        try:
            cp = subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=timeout,
                                text=True, stdin=None if input is not None
                                else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            cp = subprocess.CompletedProcess(argv, -999, "",
                                             "timed out after %ss" % timeout)
        except OSError as e:          # binary missing, ...
            cp = subprocess.CompletedProcess(argv, -998, "", str(e))
        last = cp
        if cp.returncode == 0:
            return cp
        log.debug("  -> rc=%s stderr=%s", cp.returncode, cp.stderr.strip())
        if attempt + 1 < attempts:
            time.sleep(0.2 * (attempt + 1))
    if check:
        raise NetEnvError("command failed (rc=%s): %s: %s" % (
            last.returncode, " ".join(argv), last.stderr.strip()))
    return last


def _ipt(ns, *args, check=True, retries=0):
    """iptables inside namespace ``ns``."""
    return _run(["ip", "netns", "exec", ns, "iptables", "-w", "5"] + list(args),
                check=check, retries=retries)


# --------------------------------------------------------------------------
# setns(2) via ctypes
# --------------------------------------------------------------------------

_libc = None


def _get_libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6",
                            use_errno=True)
        _libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
        _libc.setns.restype = ctypes.c_int
    return _libc


def _setns(fd):
    if _get_libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns(CLONE_NEWNET): " + os.strerror(err))


def _thread_netns_path():
    if os.path.exists("/proc/thread-self/ns/net"):
        return "/proc/thread-self/ns/net"
    return "/proc/self/task/%d/ns/net" % threading.get_native_id()


@contextlib.contextmanager
def in_netns(name):
    """Context manager: the CALLING THREAD enters network namespace ``name``
    (a ``ip netns`` name) and returns to its original namespace on exit.

    Only the calling OS thread moves (setns(2) is per thread); other threads
    are unaffected.  Sockets created inside keep that namespace for their
    whole life, even after the thread leaves.  Processes forked by the thread
    while inside inherit the namespace.  Not re-entrant across namespaces in
    a meaningful way (nesting works, each level restores its own original).
    """
    orig = os.open(_thread_netns_path(), os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(os.path.join(NETNS_RUN_DIR, name),
                         os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(orig)
        raise
    try:
        _setns(target)
        try:
            yield
        finally:
            # If restoring fails the thread would be stranded: retry, bounded.
            for attempt in range(3):
                try:
                    _setns(orig)
                    break
                except OSError:
                    if attempt == 2:
                        raise
                    time.sleep(0.05)
    finally:
        os.close(target)
        os.close(orig)


# --------------------------------------------------------------------------
# address guard
# --------------------------------------------------------------------------

def _subnet(octet):
    return ipaddress.ip_network("10.%d.0.0/24" % octet)


def check_addr(addr, subnet=None):
    """Raise ValueError unless ``addr`` is an IPv4 literal inside ``subnet``
    (default 10.77.0.0/24) or inside 127.0.0.0/8.  Host names are refused:
    no name resolution ever happens."""
    subnet = subnet or _subnet(77)
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        raise ValueError("refusing non-literal address %r (only %s and %s)"
                         % (addr, subnet, _LOOPBACK)) from None
    if ip.version != 4 or not (ip in subnet or ip in _LOOPBACK):
        raise ValueError("refusing address %s: only %s and %s are allowed"
                         % (addr, subnet, _LOOPBACK))
    return str(ip)


# --------------------------------------------------------------------------
# availability probe
# --------------------------------------------------------------------------

_avail_cache = None


def available(refresh=False):
    """Return ``(ok, reason)``: can this machine run :class:`NetEnv`?

    Checks: Linux, root, ``ip``/``iptables`` present, ``ip netns add`` works,
    a bridge and a veth pair can be created inside a namespace, iptables
    works inside a namespace (new chain + jump), and setns(2) via ctypes can
    enter and leave it.  Probes with a throwaway namespace with a unique name
    which is always deleted.  The result is cached per process (pass
    ``refresh=True`` to re-probe).  When not ok, callers should skip the
    network faults with ``reason`` and fall back to loopback-only faults
    (kill, pause).
    """
    global _avail_cache
    if _avail_cache is not None and not refresh:
        return _avail_cache
    _avail_cache = _probe()
    return _avail_cache


def _probe():
    if not sys.platform.startswith("linux"):
        return False, "network namespaces need Linux (platform is %s)" % sys.platform
    if os.geteuid() != 0:
        return False, ("not running as root (euid=%d): network namespaces, "
                       "iptables and tmpfs mounts need root" % os.geteuid())
    for tool in ("ip", "iptables", "mount", "umount"):
        if shutil.which(tool) is None:
            return False, "required tool %r not found in PATH" % tool
    try:
        _get_libc().setns
    except (OSError, AttributeError) as e:
        return False, "libc setns() not available via ctypes: %s" % e
    name = "rrprobe-%d-%s" % (os.getpid(), secrets.token_hex(3))
    created = False
    try:
        cp = _run(["ip", "netns", "add", name], check=False)
        if cp.returncode != 0:
            return False, "`ip netns add` failed: %s" % (cp.stderr.strip() or cp.returncode)
        created = True
        steps = [
            (["ip", "-n", name, "link", "set", "lo", "up"], "bring up lo in a netns"),
            (["ip", "-n", name, "link", "add", "br0", "type", "bridge"], "create a bridge in a netns"),
            (["ip", "-n", name, "link", "add", "va", "type", "veth", "peer", "name", "vb"],
             "create a veth pair in a netns"),
            (["ip", "netns", "exec", name, "iptables", "-w", "5", "-N", "RRPROBE"],
             "create an iptables chain inside a netns"),
            (["ip", "netns", "exec", name, "iptables", "-w", "5", "-I", "INPUT", "1", "-j", "RRPROBE"],
             "jump to an iptables chain inside a netns"),
            (["ip", "netns", "exec", name, "iptables", "-w", "5", "-A", "RRPROBE",
              "-s", "10.77.0.1", "-j", "DROP"], "add an iptables DROP rule inside a netns"),
        ]
        for argv, what in steps:
            cp = _run(argv, check=False)
            if cp.returncode != 0:
                return False, "cannot %s: %s" % (what, cp.stderr.strip() or cp.returncode)
        # setns from a throwaway thread (so a failure cannot strand us)
        result = {}

        def t():
            try:
                with in_netns(name):
                    s = socket.socket()
                    s.close()
                result["ok"] = True
            except Exception as e:      # noqa: BLE001
                result["err"] = e
        th = threading.Thread(target=t, daemon=True)
        th.start()
        th.join(5)
        if not result.get("ok"):
            return False, "setns(CLONE_NEWNET) into a netns failed: %s" % result.get("err", "timeout")
        return True, "root, ip netns, veth, bridge, iptables-in-netns and setns all work"
    finally:
        if created:
            _run(["ip", "netns", "del", name], check=False, retries=CMD_RETRIES)


# --------------------------------------------------------------------------
# state files / stale cleanup
# --------------------------------------------------------------------------

STATE_DIR = "/run/rr-netenv" if os.path.isdir("/run") else "/tmp/rr-netenv"


def _proc_start_time(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return int(data.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _mounts():
    """List of (source, mountpoint) from /proc/mounts (octal escapes decoded)."""
    out = []
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    dec = [p.encode().decode("unicode_escape") for p in parts[:2]]
                    out.append((dec[0], dec[1]))
    except OSError:
        pass
    return out


def _netns_list():
    cp = _run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in cp.stdout.splitlines() if line.strip()]


def _netns_pids(ns):
    cp = _run(["ip", "netns", "pids", ns], check=False)
    pids = []
    for line in cp.stdout.split():
        try:
            pids.append(int(line))
        except ValueError:
            pass
    return pids


def _kill_pids_in_ns(ns, grace=3.0):
    """SIGTERM then SIGKILL every process whose netns is ``ns`` (never
    ourselves).  Processes inside our namespaces were all started by us."""
    me = os.getpid()
    pids = [p for p in _netns_pids(ns) if p != me]
    for p in pids:
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGTERM)
            os.kill(p, signal.SIGCONT)          # a SIGSTOPped process too
    deadline = time.monotonic() + grace
    for _ in range(100):
        pids = [p for p in pids if _pid_alive(p)]
        if not pids or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for p in pids:
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)


def _mount_source(prefix):
    return "%s-tmpfs" % prefix


def cleanup_stale(max_envs=50):
    """Remove what earlier runs of this module left behind when they were
    killed without running their teardown (e.g. SIGKILL).

    Looks only at state files in ``STATE_DIR`` written by :class:`NetEnv`;
    an environment is stale when its owner process is gone (pid missing or
    reused).  For each: kill processes inside its namespaces, unmount its
    tmpfs mounts (only if still mounted with our source name), delete its
    namespaces, remove the state file.  Returns the list of prefixes cleaned.
    Never raises.
    """
    cleaned = []
    try:
        names = sorted(os.listdir(STATE_DIR))[:max_envs]
    except OSError:
        return cleaned
    for fn in names:
        if not fn.endswith(".json"):
            continue
        path = os.path.join(STATE_DIR, fn)
        try:
            with open(path) as f:
                st = json.load(f)
            pid, start = int(st["pid"]), st.get("start")
            if _pid_alive(pid) and _proc_start_time(pid) == start:
                continue                       # owner still running
            prefix = st["prefix"]
            log.info("cleaning stale netenv %s (owner pid %d gone)", prefix, pid)
            existing = set(_netns_list())
            for ns in st.get("namespaces", []):
                if ns in existing:
                    _kill_pids_in_ns(ns)
            mounted = _mounts()
            for mp in reversed(st.get("mounts", [])):
                if (_mount_source(prefix), mp) in mounted:
                    if _run(["umount", mp], check=False).returncode != 0:
                        _run(["umount", "-l", mp], check=False)
            for ns in st.get("namespaces", []):
                if ns in existing:
                    _run(["ip", "netns", "del", ns], check=False, retries=CMD_RETRIES)
            for d in sorted(set(st.get("made_dirs", [])), key=len, reverse=True):
                if not os.path.ismount(d):
                    with contextlib.suppress(OSError):
                        os.rmdir(d)            # only if empty
            os.unlink(path)
            cleaned.append(prefix)
            with contextlib.suppress(OSError):
                os.rmdir(STATE_DIR)                # only if empty
        except Exception as e:                  # noqa: BLE001
            log.warning("cleanup_stale: %s: %s", path, e)
    return cleaned


def install_signal_teardown(signals=(signal.SIGTERM, signal.SIGHUP)):
    """Make SIGTERM/SIGHUP raise SystemExit in the main thread so that
    ``finally`` blocks and atexit handlers (hence :meth:`NetEnv.teardown`)
    run.  Only replaces handlers that are still the default; call from the
    main thread.  (SIGINT already raises KeyboardInterrupt.  SIGKILL cannot
    be caught: use :func:`cleanup_stale` at the start of the next run.)"""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    for s in signals:
        try:
            if signal.getsignal(s) in (signal.SIG_DFL, None):
                signal.signal(s, handler)
        except (ValueError, OSError):
            pass


# --------------------------------------------------------------------------
# NetEnv
# --------------------------------------------------------------------------

class NetEnv:
    """An isolated n-node network: one netns per node, one for the clients,
    one holding the bridge.  See the module docstring for the topology.

    Typical use::

        ok, why = netenv.available()
        if not ok: pytest.skip(why)
        env = NetEnv(3)
        try:
            env.setup()
            p = env.popen(1, ["/work/main/build/redis-raft", ...])
            s = env.connect(env.node_ip(1), 5001, timeout=2)
            env.partition([[1], [2, 3]])
            ...
            env.heal()
        finally:
            env.teardown()

    Fault methods are additive: each adds DROP rules on top of the existing
    ones (duplicates are ignored); call :meth:`heal` to return to full
    connectivity before applying an unrelated fault.
    Not safe for concurrent fault calls from several threads without
    external locking (an internal lock serialises them anyway).
    """

    def __init__(self, n_nodes, prefix=None, subnet_third_octet=77):
        """``n_nodes``: 1..80.  ``prefix``: unique per run (default ``'rr'``
        + 6 random hex digits) so parallel or aborted runs never clash.
        ``subnet_third_octet``: despite its name, the ``X`` in the subnet
        ``10.X.0.0/24`` (default 77 -> 10.77.0.0/24, node i = 10.X.0.(10+i),
        clients = 10.X.0.100)."""
        n_nodes = int(n_nodes)
        if not 1 <= n_nodes <= 80:
            raise ValueError("n_nodes must be in 1..80")
        octet = int(subnet_third_octet)
        if not 0 <= octet <= 255:
            raise ValueError("subnet octet must be in 0..255")
        self.n_nodes = n_nodes
        self.prefix = prefix or ("rr" + secrets.token_hex(3))
        if not all(c.isalnum() or c in "-_" for c in self.prefix) or len(self.prefix) > 40:
            raise ValueError("prefix must be short and alphanumeric/-/_")
        self.subnet = _subnet(octet)
        self._octet = octet
        self.bridge_ns = "%s-br" % self.prefix
        self.client_ns = "%s-cl" % self.prefix
        self.client_ip = "10.%d.0.100" % octet
        self._created_ns = []          # namespaces we created (teardown order)
        self._mounts = []              # tmpfs mountpoints we mounted
        self._made_dirs = []           # dirs we created for mounts
        self._procs = []               # Popen objects from popen()
        self._blocked = set()          # (src, dst) endpoint pairs dropped
        self._faults = []              # human readable descriptions
        self._lock = threading.RLock()
        self._setup_done = False
        self._torn_down = False
        self._state_path = os.path.join(STATE_DIR, self.prefix + ".json")
        atexit.register(self.teardown)

    # ---- names and addresses --------------------------------------------

    @property
    def nodes(self):
        """List of node ids, 1..n."""
        return list(range(1, self.n_nodes + 1))

    def _check_node(self, i):
        if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= self.n_nodes:
            raise ValueError("node id must be an int in 1..%d, got %r" % (self.n_nodes, i))
        return i

    def node_ip(self, i):
        """Address of node ``i`` (1-based): ``'10.77.0.(10+i)'``."""
        self._check_node(i)
        return "10.%d.0.%d" % (self._octet, 10 + i)

    def node_ns(self, i):
        """Network namespace name of node ``i``: ``f'{prefix}-n{i}'``."""
        self._check_node(i)
        return "%s-n%d" % (self.prefix, i)

    def _ep_ip(self, ep):
        return self.client_ip if ep == CLIENT else self.node_ip(ep)

    def _ep_name(self, ep):
        return "client" if ep == CLIENT else "n%d" % ep

    def check_addr(self, addr):
        """:func:`check_addr` against this env's subnet."""
        return check_addr(addr, self.subnet)

    def namespaces(self):
        """All namespace names this env uses (bridge, nodes, client)."""
        return [self.bridge_ns] + [self.node_ns(i) for i in self.nodes] + [self.client_ns]

    # ---- state file ---------------------------------------------------------

    def _write_state(self):
        try:
            os.makedirs(STATE_DIR, exist_ok=True)
            tmp = self._state_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"prefix": self.prefix, "pid": os.getpid(),
                           "start": _proc_start_time(os.getpid()),
                           "namespaces": list(self._created_ns),
                           "mounts": list(self._mounts),
                           "made_dirs": list(self._made_dirs)}, f)
            os.replace(tmp, self._state_path)
        except OSError as e:
            log.debug("cannot write state file %s: %s", self._state_path, e)

    # ---- setup / teardown -----------------------------------------------------

    def setup(self):
        """Create namespaces, bridge, veths, addresses and fault chains.

        Raises :class:`NetEnvUnavailable` (with the reason) if anything
        fails, after removing whatever was already created.  Returns self.
        """
        with self._lock:
            if self._torn_down:
                raise NetEnvUnavailable("NetEnv %s was already torn down" % self.prefix)
            if self._setup_done:
                return self
            try:
                self._setup()
            except Exception as e:
                log.warning("netenv setup failed: %s", e)
                self._teardown_resources()
                if isinstance(e, NetEnvUnavailable):
                    raise
                raise NetEnvUnavailable("network namespace setup failed: %s" % e) from e
            self._setup_done = True
            return self

    def _setup(self):
        if os.geteuid() != 0:
            raise NetEnvUnavailable("not running as root (euid=%d)" % os.geteuid())
        existing = set(_netns_list())
        clash = [ns for ns in self.namespaces() if ns in existing]
        if clash:
            raise NetEnvUnavailable("namespaces already exist: %s" % ", ".join(clash))
        for ns in self.namespaces():
            _run(["ip", "netns", "add", ns])
            self._created_ns.append(ns)
            self._write_state()
            # no IPv6 at all: no link-local addresses, no RS/DAD/MLD traffic
            _run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                  "net.ipv6.conf.all.disable_ipv6=1",
                  "net.ipv6.conf.default.disable_ipv6=1"], check=False)
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        br = self.bridge_ns
        _run(["ip", "-n", br, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", br, "link", "set", "br0", "up"])
        ends = [(self.node_ns(i), "v%d" % i, self.node_ip(i)) for i in self.nodes]
        ends.append((self.client_ns, "vcl", self.client_ip))
        plen = self.subnet.prefixlen
        for ns, peer, ip in ends:
            self.check_addr(ip)
            _run(["ip", "-n", br, "link", "add", peer, "type", "veth",
                  "peer", "name", "eth0", "netns", ns])
            _run(["ip", "-n", br, "link", "set", peer, "master", "br0"])
            _run(["ip", "-n", br, "link", "set", peer, "up"])
            _run(["ip", "-n", ns, "addr", "add", "%s/%d" % (ip, plen), "dev", "eth0"])
            _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        for i in self.nodes:
            ns = self.node_ns(i)
            for chain, hook in ((CHAIN_IN, "INPUT"), (CHAIN_OUT, "OUTPUT")):
                _ipt(ns, "-N", chain)
                _ipt(ns, "-I", hook, "1", "-j", chain)
        # sanity: no default route anywhere, eth0 up with carrier
        for ns in self.namespaces():
            cp = _run(["ip", "-n", ns, "-4", "route", "show", "default"])
            if cp.stdout.strip():
                raise NetEnvUnavailable("unexpected default route in %s: %s" % (ns, cp.stdout.strip()))
        for ns, _, _ in ends:
            for _ in range(50):                        # bounded: <= ~5 s
                cp = _run(["ip", "-n", ns, "-o", "link", "show", "eth0"])
                if "LOWER_UP" in cp.stdout:
                    break
                time.sleep(0.1)
            else:
                raise NetEnvUnavailable("eth0 in %s never came up" % ns)

    def teardown(self):
        """Heal, kill processes, unmount tmpfs, delete namespaces.

        Idempotent, never raises, safe to call twice and from atexit."""
        try:
            with self._lock:
                if self._torn_down:
                    return
                self._torn_down = True
                self._teardown_resources()
        except Exception as e:                  # noqa: BLE001
            log.warning("netenv teardown error: %s", e)
        finally:
            with contextlib.suppress(Exception):
                atexit.unregister(self.teardown)

    def _teardown_resources(self):
        steps = (self.heal, self._kill_procs, self.umount_all, self._del_namespaces)
        for step in steps:
            try:
                step()
            except Exception as e:              # noqa: BLE001
                log.warning("netenv teardown step %s failed: %s", step.__name__, e)
        if not self._created_ns and not self._mounts:
            with contextlib.suppress(OSError):
                os.unlink(self._state_path)
            with contextlib.suppress(OSError):
                os.rmdir(STATE_DIR)                # only if empty
        else:
            self._write_state()

    def _kill_procs(self):
        procs, self._procs = self._procs, []
        for p in procs:
            if p.poll() is None:
                with contextlib.suppress(OSError):
                    if getattr(p, "_netenv_pgid", None):
                        os.killpg(p._netenv_pgid, signal.SIGTERM)
                        os.killpg(p._netenv_pgid, signal.SIGCONT)  # paused ones
                    else:
                        p.terminate()
                        p.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 5
        for p in procs:
            try:
                p.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in procs:
            with contextlib.suppress(OSError):
                if getattr(p, "_netenv_pgid", None):
                    os.killpg(p._netenv_pgid, signal.SIGKILL)  # grandchildren too
                elif p.poll() is None:
                    p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)
        # anything else still inside one of our namespaces was started by us
        existing = set(_netns_list())
        for ns in self._created_ns:
            if ns in existing:
                _kill_pids_in_ns(ns)

    def _del_namespaces(self):
        existing = set(_netns_list())
        remaining = []
        for ns in reversed(self._created_ns):
            if ns not in existing:
                continue
            cp = _run(["ip", "netns", "del", ns], check=False, retries=CMD_RETRIES)
            if cp.returncode != 0:
                log.warning("could not delete netns %s: %s", ns, cp.stderr.strip())
                remaining.append(ns)
        self._created_ns = list(reversed(remaining))

    def __enter__(self):
        return self.setup()

    def __exit__(self, *exc):
        self.teardown()
        return False

    # ---- processes ----------------------------------------------------------

    def popen(self, i, argv, **kw):
        """Start ``argv`` inside node ``i``'s namespace:
        ``subprocess.Popen(['ip','netns','exec', ns] + argv, **kw)``.

        ``start_new_session`` defaults to True so teardown can kill the whole
        process group; stdin defaults to DEVNULL.  The process is remembered
        and killed by :meth:`teardown` if still running.

        Note: ``ip netns exec`` gives the child a private copy of the mount
        table (this host's ``/`` is not a shared mount), so mount any tmpfs
        the process should see *before* starting it; resizing later with
        :meth:`resize_tmpfs` does reach the child (same superblock).
        """
        self._check_node(i)
        return self._popen_ns(self.node_ns(i), argv, **kw)

    def popen_client(self, argv, **kw):
        """Like :meth:`popen` but inside the client namespace."""
        return self._popen_ns(self.client_ns, argv, **kw)

    def _popen_ns(self, ns, argv, **kw):
        if not self._setup_done or self._torn_down:
            raise NetEnvError("NetEnv %s is not set up" % self.prefix)
        if isinstance(argv, str):
            raise TypeError("argv must be a list, not a shell string")
        kw.setdefault("start_new_session", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        full = ["ip", "netns", "exec", ns] + [str(a) for a in argv]
        log.debug("popen: %s", " ".join(full))
        p = subprocess.Popen(full, **kw)
        if kw.get("start_new_session"):
            p._netenv_pgid = p.pid
        with self._lock:
            self._procs = [q for q in self._procs if q.poll() is None]
            self._procs.append(p)
        return p

    def run_in_node(self, i, argv, timeout=CMD_TIMEOUT):
        """Run ``argv`` to completion in node ``i``'s namespace (bounded by
        ``timeout``); returns CompletedProcess (rc -999 on timeout)."""
        return _run(["ip", "netns", "exec", self.node_ns(i)] + list(argv),
                    check=False, timeout=timeout)

    # ---- client namespace --------------------------------------------------------

    def run_in_client_ns(self):
        """Context manager: the CALLING THREAD enters the client namespace
        (ctypes setns(fd, CLONE_NEWNET)) and returns to its original
        namespace on exit.

        It is PER THREAD: other threads stay where they are.  Use it at the
        start of each client worker thread (``with env.run_in_client_ns():
        worker()``) or just around connection creation -- a socket keeps the
        namespace it was created in, so a socket created inside can be used
        from any thread afterwards.  Don't fork/exec subprocesses while
        inside unless they should live in the client namespace.
        """
        return in_netns(self.client_ns)

    def run_in_node_ns(self, i):
        """Like :meth:`run_in_client_ns` but for node ``i``'s namespace."""
        return in_netns(self.node_ns(i))

    def connect(self, host, port, timeout=None):
        """Return a TCP socket created inside the client namespace and
        connected to ``(host, port)``; callable from any thread.  ``host``
        must be an IPv4 literal of this env's subnet (or 127/8, which is the
        client namespace's own loopback).  The socket's timeout stays
        ``timeout``.  TCP_NODELAY is set."""
        host = self.check_addr(host)
        with self.run_in_client_ns():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(timeout)
            s.connect((host, int(port)))
        except BaseException:
            s.close()
            raise
        return s

    def client_socket_factory(self, default_timeout=None):
        """Return ``connect(host, port, timeout=default_timeout)`` that
        creates connected sockets in the client namespace (see
        :meth:`connect`)."""
        def connect(host, port, timeout=default_timeout):
            return self.connect(host, port, timeout)
        return connect

    def redis_connection_class(self):
        """Return a ``redis.connection.Connection`` subclass (Debian's
        python3-redis) whose sockets are created in the client namespace::

            pool = redis.ConnectionPool(connection_class=env.redis_connection_class(),
                                        host=env.node_ip(1), port=5001,
                                        socket_timeout=2, socket_connect_timeout=2)
            r = redis.Redis(connection_pool=pool)
        """
        import redis.connection  # lazy: optional dependency
        env = self

        class NetnsConnection(redis.connection.Connection):
            def _connect(self):
                sock = env.connect(self.host, self.port, self.socket_connect_timeout)
                if self.socket_keepalive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                    for k, v in self.socket_keepalive_options.items():
                        sock.setsockopt(socket.IPPROTO_TCP, k, v)
                sock.settimeout(self.socket_timeout)
                return sock
        return NetnsConnection

    # ---- faults -----------------------------------------------------------------

    def _require_up(self):
        if not self._setup_done or self._torn_down:
            raise NetEnvError("NetEnv %s is not set up" % self.prefix)

    def _block(self, src, dst):
        """Drop every packet from endpoint src to endpoint dst (node ids or
        CLIENT).  Rules live in node namespaces only: src's RRFAULT-OUT
        (-d dst) and dst's RRFAULT-IN (-s src)."""
        if src == dst or (src, dst) in self._blocked:
            return
        if src != CLIENT:
            _ipt(self.node_ns(src), "-A", CHAIN_OUT, "-d", self.check_addr(self._ep_ip(dst)),
                 "-j", "DROP")
        if dst != CLIENT:
            _ipt(self.node_ns(dst), "-A", CHAIN_IN, "-s", self.check_addr(self._ep_ip(src)),
                 "-j", "DROP")
        self._blocked.add((src, dst))

    def _block_both(self, a, b):
        self._block(a, b)
        self._block(b, a)

    def _apply(self, desc, fn):
        with self._lock:
            self._require_up()
            try:
                fn()
            except Exception:
                # never leave a half-applied fault that active_faults() hides
                self._faults.append(desc + " (PARTIALLY APPLIED)")
                raise
            self._faults.append(desc)
            log.info("fault: %s", desc)

    def partition(self, groups, isolate_clients=False):
        """Split the nodes into ``groups`` (list of lists of node ids, every
        node in exactly one group, e.g. ``[[1], [2, 3]]``); nodes in
        different groups cannot exchange any packet (both directions).

        The client namespace is unaffected (reaches every node) unless
        ``isolate_clients`` is given: ``True`` puts the clients with
        ``groups[0]``; an int ``k`` puts them with ``groups[k]``; they then
        cannot reach nodes of the other groups.
        """
        groups = [list(g) for g in groups]
        seen = []
        for g in groups:
            if not g:
                raise ValueError("empty group in %r" % (groups,))
            for i in g:
                self._check_node(i)
                seen.append(i)
        if sorted(seen) != self.nodes:
            raise ValueError("partition %r must list every node 1..%d exactly once"
                             % (groups, self.n_nodes))
        k = None
        if isolate_clients is not False and isolate_clients is not None:
            k = 0 if isolate_clients is True else int(isolate_clients)
            if not 0 <= k < len(groups):
                raise ValueError("isolate_clients group index %r out of range" % (isolate_clients,))
        gid = {i: n for n, g in enumerate(groups) for i in g}

        def fn():
            for a in self.nodes:
                for b in self.nodes:
                    if a < b and gid[a] != gid[b]:
                        self._block_both(a, b)
            if k is not None:
                for a in self.nodes:
                    if gid[a] != k:
                        self._block_both(CLIENT, a)
        desc = "partition %s" % groups
        if k is not None:
            desc += " (clients with %s)" % groups[k]
        self._apply(desc, fn)

    def isolate(self, i):
        """Node ``i`` alone vs the rest: ``partition([[i], others])``
        (clients still reach every node)."""
        self._check_node(i)
        self.partition([[i], [j for j in self.nodes if j != i]])

    def cut_one_way(self, src, dst):
        """Drop every packet from node ``src`` to node ``dst`` (dropped in
        src's OUTPUT and dst's INPUT); packets dst->src still flow.  Note
        that TCP needs both directions, so TCP connections between the two
        fail either way (new ones can't handshake, established ones stall);
        only one-way datagrams (and e.g. Raft messages that a peer sends
        without needing replies) show the asymmetry."""
        self._check_node(src)
        self._check_node(dst)
        if src == dst:
            raise ValueError("src == dst")
        self._apply("cut %d->%d" % (src, dst), lambda: self._block(src, dst))

    def ring(self):
        """"Majority ring": node i only talks to i-1 and i+1 (mod n, 1-based).

        With 5 nodes each node sees 2 of 4 peers (itself + 2 = a majority)
        while no two nodes see the same majority.  With n <= 3 every node is
        already a neighbour of every other, so this is full connectivity (a
        no-op); with 4 it cuts the two diagonals (1-3, 2-4).  Clients are
        unaffected."""
        n = self.n_nodes

        def fn():
            for a in self.nodes:
                nbrs = {(a - 2) % n + 1, a % n + 1}
                for b in self.nodes:
                    if a < b and b not in nbrs:
                        self._block_both(a, b)
        self._apply("ring" + (" (no-op: n<=3)" if n <= 3 else ""), fn)

    def heal(self):
        """Remove every fault rule (flush both chains in every node ns)."""
        with self._lock:
            if not self._blocked and not self._faults:
                return
            existing = set(_netns_list())
            errors = []
            for i in self.nodes:
                ns = self.node_ns(i)
                if ns not in existing:
                    continue
                for chain in (CHAIN_IN, CHAIN_OUT):
                    cp = _ipt(ns, "-F", chain, check=False, retries=CMD_RETRIES)
                    if cp.returncode != 0:
                        errors.append("%s %s: %s" % (ns, chain, cp.stderr.strip()))
            if errors:
                raise NetEnvError("heal failed: " + "; ".join(errors))
            if self._faults:
                log.info("heal (was: %s)", "; ".join(self._faults))
            self._blocked.clear()
            self._faults = []

    def active_faults(self):
        """Human readable list of the faults in force (empty when healed)."""
        with self._lock:
            return list(self._faults)

    def blocked_pairs(self):
        """Sorted list of ``'nA->nB'`` / ``'client->nB'`` directions dropped."""
        with self._lock:
            return sorted("%s->%s" % (self._ep_name(a), self._ep_name(b))
                          for a, b in self._blocked)

    def rules(self, i):
        """``iptables -S`` of node i's two fault chains (for debugging)."""
        out = []
        for chain in (CHAIN_IN, CHAIN_OUT):
            cp = _ipt(self.node_ns(i), "-S", chain, check=False)
            out += [l for l in cp.stdout.splitlines() if l.startswith("-A")]
        return out

    # ---- disk -------------------------------------------------------------------

    def mount_tmpfs(self, path, size_bytes):
        """Mount a tmpfs of ``size_bytes`` (rounded up to pages by the
        kernel) at ``path`` (created with mkdir -p), remembered for
        teardown.  Refuses a path that is already a mount point.  Mount it
        before starting processes that must see it (see :meth:`popen`).
        Returns the absolute path."""
        path = os.path.abspath(path)
        size = int(size_bytes)
        if size <= 0:
            raise ValueError("size_bytes must be > 0")
        with self._lock:
            if self._torn_down:
                raise NetEnvError("NetEnv %s already torn down" % self.prefix)
            if os.path.ismount(path):
                raise NetEnvError("%s is already a mount point" % path)
            # remember every directory we create, to rmdir it afterwards
            missing, p = [], path
            for _ in range(64):
                if os.path.exists(p):
                    break
                missing.append(p)
                p = os.path.dirname(p)
            os.makedirs(path, exist_ok=True)
            self._made_dirs.extend(missing)
            _run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % size,
                  _mount_source(self.prefix), path])
            self._mounts.append(path)
            self._write_state()
            log.info("mounted tmpfs %s size=%d", path, size)
            return path

    def resize_tmpfs(self, path, size_bytes):
        """``mount -o remount,size=N`` one of our tmpfs mounts.  Shrinking
        below what is in use fails (NetEnvError)."""
        path = os.path.abspath(path)
        if path not in self._mounts:
            raise NetEnvError("%s is not a tmpfs mounted by this NetEnv" % path)
        _run(["mount", "-o", "remount,size=%d" % int(size_bytes), path])
        log.info("resized tmpfs %s to %d", path, int(size_bytes))
        return path

    def umount_all(self):
        """Unmount every tmpfs we mounted (lazy unmount if busy) and remove
        the directories we created for them (only if empty)."""
        with self._lock:
            remaining = []
            for path in reversed(self._mounts):
                if (_mount_source(self.prefix), path) not in _mounts():
                    continue
                cp = _run(["umount", path], check=False, retries=1)
                if cp.returncode != 0:
                    cp = _run(["umount", "-l", path], check=False)
                if cp.returncode != 0:
                    log.warning("could not unmount %s: %s", path, cp.stderr.strip())
                    remaining.append(path)
            self._mounts = list(reversed(remaining))
            if not self._mounts:
                for d in sorted(set(self._made_dirs), key=len, reverse=True):
                    with contextlib.suppress(OSError):
                        os.rmdir(d)
                self._made_dirs = []


# ==========================================================================
# self-test
# ==========================================================================

ECHO_PORT = 7000
UDP_PORT = 7001

# Runs inside a node namespace: TCP line echo on ip:7000 ("UDPLOG" returns
# the UDP datagrams received so far), UDP sink on ip:7001.  Exits by itself
# after LIFETIME seconds.
_SERVER_SRC = r"""
import os, socket, socketserver, sys, threading
ip, lifetime = sys.argv[1], float(sys.argv[2])
threading.Timer(lifetime, lambda: os._exit(3)).start()
udplog = []
class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.request.settimeout(lifetime)
        for _ in range(100000):
            line = self.rfile.readline()
            if not line:
                return
            if line.strip() == b"UDPLOG":
                self.wfile.write((",".join(udplog) + "\n").encode())
            else:
                self.wfile.write(line)
            self.wfile.flush()
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
srv = S((ip, %d), H)
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((ip, %d))
    for _ in range(100000):
        data, _a = u.recvfrom(2048)
        udplog.append(data.decode(errors="replace"))
threading.Thread(target=udp, daemon=True).start()
print("ready", flush=True)
srv.serve_forever()
""" % (ECHO_PORT, UDP_PORT)

# Runs inside a node namespace: holds ONE TCP connection to argv[1]:7000 and
# answers "ping TOKEN" lines on stdin with "ok"/"timeout" (echo within 1 s).
_PROBER_SRC = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], %d), timeout=2)
print("connected", flush=True)
buf = b""
for _ in range(200):
    line = sys.stdin.readline()
    if not line:
        break
    tok = line.split()[1].encode()
    try:
        s.settimeout(1.0)
        s.sendall(tok + b"\n")
        deadline = time.monotonic() + 1.0
        ok = False
        while time.monotonic() < deadline and not ok:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            data = s.recv(4096)
            if not data:
                break
            buf += data
            lines = buf.split(b"\n")
            buf = lines[-1]
            ok = tok in lines[:-1]
        print("ok" if ok else "timeout", flush=True)
    except OSError as e:
        print("timeout", type(e).__name__, flush=True)
""" % ECHO_PORT

# exit 0 = connected, 2 = timeout, 3 = other error
_CONNECT_SRC = r"""
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
except socket.timeout:
    sys.exit(2)
except OSError as e:
    print(e, file=sys.stderr); sys.exit(3)
"""

_UDP_SEND_SRC = r"""
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    u.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
"""

PY = "/usr/bin/python3"


class _SelfTestFailure(AssertionError):
    pass


def _expect(cond, msg):
    if not cond:
        raise _SelfTestFailure(msg)
    print("  ok:", msg, flush=True)


def _start_servers(env, lifetime=120):
    procs = {}
    for i in env.nodes:
        procs[i] = env.popen(i, [PY, "-c", _SERVER_SRC, env.node_ip(i), str(lifetime)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for i, p in procs.items():
        line = _readline(p, 10)
        if line.strip() != "ready":
            raise _SelfTestFailure("server on n%d did not start: %r %r" % (i, line, p.stderr.read() if p.poll() is not None else ""))
    return procs


def _readline(p, timeout):
    """Read one line from p.stdout with a timeout (bounded)."""
    import select
    r, _, _ = select.select([p.stdout], [], [], timeout)
    if not r:
        return ""
    return p.stdout.readline()


def _client_echo(env, i, timeout=1.0):
    """From the client ns: connect to node i and echo one line."""
    try:
        s = env.connect(env.node_ip(i), ECHO_PORT, timeout)
    except OSError:
        return False
    try:
        s.sendall(b"hello\n")
        return s.recv(100) == b"hello\n"
    except OSError:
        return False
    finally:
        s.close()


def _node_connect(env, a, b, timeout=1.0):
    """From node a's ns: try to connect to node b; returns (rc, elapsed)."""
    t0 = time.monotonic()
    cp = env.run_in_node(a, [PY, "-c", _CONNECT_SRC, env.node_ip(b), str(ECHO_PORT), str(timeout)],
                         timeout=timeout + 8)
    return cp.returncode, time.monotonic() - t0


def _udp_send(env, a, b, token):
    env.run_in_node(a, [PY, "-c", _UDP_SEND_SRC, env.node_ip(b), str(UDP_PORT), token])


def _udp_log(env, i):
    s = env.connect(env.node_ip(i), ECHO_PORT, 2)
    try:
        s.sendall(b"UDPLOG\n")
        data = b""
        for _ in range(50):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if data.endswith(b"\n"):
                break
        return data.decode().strip().split(",")
    finally:
        s.close()


def _check_all_pairs(env, expect_blocked):
    """expect_blocked: set of (a, b) pairs for which a TCP connect a->b must fail."""
    for a in env.nodes:
        for b in env.nodes:
            if a == b:
                continue
            rc, dt = _node_connect(env, a, b)
            if (a, b) in expect_blocked:
                _expect(rc == 2 and dt < 4, "n%d -> n%d blocked (connect timed out after %.2fs, rc=%d)" % (a, b, dt, rc))
            else:
                _expect(rc == 0, "n%d -> n%d reachable (rc=%d, %.2fs)" % (a, b, rc, dt))


def _assert_gone(prefix, mounts, pids, timeout=10):
    deadline = time.monotonic() + timeout
    for _ in range(200):
        left_ns = [n for n in _netns_list() if n.startswith(prefix + "-")]
        left_mnt = [m for s, m in _mounts() if m in mounts or s == _mount_source(prefix)]
        left_pids = [p for p in pids if _pid_alive(p)]
        if not (left_ns or left_mnt or left_pids) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    _expect(not left_ns, "no namespaces left with prefix %s (%s)" % (prefix, left_ns))
    _expect(not left_mnt, "no mounts left (%s)" % left_mnt)
    _expect(not left_pids, "no processes left (%s)" % left_pids)
    _expect(not os.path.exists(os.path.join(STATE_DIR, prefix + ".json")), "state file removed")


def _selftest_main():
    import tempfile
    ok, reason = available()
    print("available():", ok, reason, flush=True)
    if not ok:
        print("SKIP: " + reason)
        return 0
    cleaned = cleanup_stale()
    if cleaned:
        print("cleaned stale envs:", cleaned)
    env = NetEnv(3)
    pids = []
    tmpdir = tempfile.mkdtemp(prefix="netenv-selftest-")
    mnt = os.path.join(tmpdir, "a", "disk")
    try:
        print("setup", env.prefix, flush=True)
        env.setup()
        _expect(set(env.namespaces()) <= set(_netns_list()), "namespaces created")
        for ns in env.namespaces():
            cp = _run(["ip", "-n", ns, "route", "show"])
            _expect("default" not in cp.stdout, "%s has no default route" % ns)
            cp = _run(["ip", "-n", ns, "-o", "addr", "show"])
            addrs = [l.split()[3] for l in cp.stdout.splitlines()]
            for a in addrs:
                check_addr(a.split("/")[0], env.subnet)
            _expect(True, "%s addresses all allowed: %s" % (ns, addrs))
        try:
            env.connect("8.8.8.8", 53, 1)
            raise _SelfTestFailure("connect to a foreign address was not refused")
        except ValueError:
            _expect(True, "connect() refuses addresses outside the subnet (nothing sent)")

        # tmpfs before processes so that they see it
        env.mount_tmpfs(mnt, 1 << 20)
        _expect((_mount_source(env.prefix), mnt) in _mounts(), "tmpfs mounted at %s" % mnt)

        procs = _start_servers(env)
        pids = [p.pid for p in procs.values()]
        for i in env.nodes:
            _expect(_client_echo(env, i), "client -> n%d echo works" % i)
        _check_all_pairs(env, set())

        # established connection n2 -> n1 (through node namespaces)
        prober = env.popen(2, [PY, "-c", _PROBER_SRC, env.node_ip(1)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        pids.append(prober.pid)
        _expect(_readline(prober, 5).strip() == "connected", "prober n2->n1 connected")

        def ping(tok):
            prober.stdin.write("ping %s\n" % tok)
            prober.stdin.flush()
            return _readline(prober, 5).strip()
        _expect(ping("a1") == "ok", "established n2->n1 passes data before partition")
        # established client connections to n1 and n2
        c1 = env.connect(env.node_ip(1), ECHO_PORT, 1)
        c2 = env.connect(env.node_ip(2), ECHO_PORT, 1)

        def cping(s, tok):
            try:
                s.sendall(tok + b"\n")
                return s.recv(100) == tok + b"\n"
            except OSError:
                return False
        _expect(cping(c1, b"x") and cping(c2, b"x"), "established client conns work")

        # ---- partition
        env.partition([[1], [2, 3]])
        print("  active:", env.active_faults(), env.blocked_pairs())
        _expect(env.active_faults() == ["partition [[1], [2, 3]]"], "active_faults reports partition")
        _expect(ping("b1").startswith("timeout") and ping("b2").startswith("timeout"),
                "established TCP n2->n1 stops passing data after partition (no conntrack bypass)")
        _check_all_pairs(env, {(1, 2), (2, 1), (1, 3), (3, 1)})
        for i in env.nodes:
            _expect(_client_echo(env, i), "client -> n%d still works under partition" % i)
        _expect(cping(c1, b"y") and cping(c2, b"y"), "established client conns unaffected")

        env.heal()
        _expect(env.active_faults() == [] and all(env.rules(i) == [] for i in env.nodes),
                "heal() removed every rule")
        ok_after = False
        for _ in range(15):                       # TCP retransmit backoff
            if ping("c%d" % _) == "ok":
                ok_after = True
                break
        _expect(ok_after, "established n2->n1 recovers after heal")
        _check_all_pairs(env, set())

        # ---- client isolation with partition
        env.partition([[1], [2, 3]], isolate_clients=True)
        _expect(cping(c1, b"z"), "isolate_clients: client conn to n1 (its group) works")
        c2.settimeout(1.0)
        _expect(not cping(c2, b"z"), "isolate_clients: established client conn to n2 stalls")
        _expect(_client_echo(env, 1) and not _client_echo(env, 2) and not _client_echo(env, 3),
                "isolate_clients: new client conns only reach n1")
        env.heal()
        c1.close()
        c2.close()

        # ---- one-way cut
        env.cut_one_way(1, 2)
        _expect(env.blocked_pairs() == ["n1->n2"], "cut_one_way(1,2) blocks exactly n1->n2")
        _udp_send(env, 1, 2, "from1")
        _udp_send(env, 2, 1, "from2")
        _udp_send(env, 3, 2, "from3")
        time.sleep(0.3)
        log1, log2 = _udp_log(env, 1), _udp_log(env, 2)
        _expect("from2" in log1, "UDP n2->n1 still flows (%s)" % log1)
        _expect("from1" not in log2 and "from3" in log2, "UDP n1->n2 dropped, n3->n2 flows (%s)" % log2)
        rc12, _ = _node_connect(env, 1, 2)
        rc21, _ = _node_connect(env, 2, 1)
        _expect(rc12 == 2 and rc21 == 2, "TCP fails both ways under a one-way cut (handshake needs both)")
        rc13, _ = _node_connect(env, 1, 3)
        _expect(rc13 == 0, "n1 -> n3 unaffected")
        env.heal()

        # ---- isolate / ring
        env.isolate(3)
        _check_all_pairs(env, {(3, 1), (1, 3), (3, 2), (2, 3)})
        env.heal()
        env.ring()
        _expect(env.blocked_pairs() == [], "ring() with 3 nodes is full connectivity")
        env.heal()

        # ---- tmpfs: write, resize, ENOSPC (inside a node ns process, too)
        with open(os.path.join(mnt, "f"), "wb") as f:
            f.write(b"x" * 100000)
        env.resize_tmpfs(mnt, 256 << 10)
        with open("/proc/mounts") as f:
            opts = [l.split()[3] for l in f if l.split()[1] == mnt]
        _expect(opts and "size=256k" in opts[-1], "resize_tmpfs applied (%s)" % opts)
        code = ("import sys\ntry:\n    open(sys.argv[1]+'/g','wb').write(b'y'*400000)\n"
                "except OSError as e:\n    print(e.errno); sys.exit(7)\n")
        cp = env.run_in_node(1, [PY, "-c", code, mnt])
        _expect(cp.returncode == 7 and cp.stdout.strip() == "28",
                "process in node ns sees resized tmpfs: ENOSPC past 256k (rc=%s out=%r)" % (cp.returncode, cp.stdout))
        env.resize_tmpfs(mnt, 1 << 20)
        cp = env.run_in_node(1, [PY, "-c", code, mnt])
        _expect(cp.returncode == 0, "after growing to 1M the write succeeds")

        # ---- optional: redis-py through the client namespace
        rs = shutil.which("redis-server")
        try:
            import redis
        except ImportError:
            rs = None
        if rs:
            rp = env.popen(1, [rs, "--bind", env.node_ip(1), "--port", "6399", "--save", "", "--protected-mode", "no",
                               "--appendonly", "no", "--dir", mnt],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            pids.append(rp.pid)
            pool = redis.ConnectionPool(connection_class=env.redis_connection_class(),
                                        host=env.node_ip(1), port=6399,
                                        socket_timeout=2, socket_connect_timeout=2)
            r = redis.Redis(connection_pool=pool)
            good = False
            for _ in range(50):
                try:
                    good = r.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.1)
            _expect(good and r.set("k", "v") and r.get("k") == b"v",
                    "redis-py via redis_connection_class() works from the main thread")
            pool.disconnect()

        # ---- popen'd process killed at teardown
        _expect(all(_pid_alive(p) for p in pids[:3]), "servers alive before teardown")
        os.kill(pids[0], signal.SIGSTOP)          # a paused node must not slow teardown
        t0 = time.monotonic()
        env.teardown()
        _expect(time.monotonic() - t0 < 4, "teardown with a SIGSTOPped process took %.2fs"
                % (time.monotonic() - t0))
    finally:
        env.teardown()
        env.teardown()   # idempotent
        with contextlib.suppress(OSError):
            os.rmdir(tmpdir)
    _assert_gone(env.prefix, [mnt], pids)
    _expect(not os.path.exists(tmpdir), "tmpfs directories removed")

    # ---- abnormal exits in a child process
    for mode in ("exception", "finally", "sigterm", "sigkill"):
        print("crash mode:", mode, flush=True)
        child = subprocess.Popen([PY, os.path.abspath(__file__), "--_crash", mode],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = _readline(child, 30)
            info = json.loads(line)
            _expect(set(info["ns"]) <= set(_netns_list()), "child %s set up %s" % (mode, info["prefix"]))
            if mode == "sigterm":
                child.send_signal(signal.SIGTERM)
            elif mode == "sigkill":
                child.kill()
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(5)
        err = child.stderr.read()
        if mode == "sigkill":
            # nothing ran in the child: recover with cleanup_stale()
            _expect(info["prefix"] + "-n1" in _netns_list(), "SIGKILL leaves namespaces behind")
            cleaned = cleanup_stale()
            _expect(info["prefix"] in cleaned, "cleanup_stale() removed the SIGKILLed env")
        else:
            _expect(child.returncode != 0, "child %s exited abnormally (rc=%s, %s)"
                    % (mode, child.returncode, err.strip().splitlines()[-1] if err.strip() else ""))
        _assert_gone(info["prefix"], [info["mnt"]], info["pids"])
        with contextlib.suppress(OSError):
            os.rmdir(info["tmp"])
        _expect(not os.path.exists(info["tmp"]), "child's directories removed")

    print("SELFTEST PASSED", flush=True)
    return 0


def _crash_child(mode):
    import tempfile
    install_signal_teardown()
    tmp = tempfile.mkdtemp(prefix="netenv-crash-")
    mnt = os.path.join(tmp, "disk")

    def body(env):
        env.setup()
        env.mount_tmpfs(mnt, 1 << 20)
        procs = _start_servers(env, lifetime=60)
        env.partition([[1], [2]])
        print(json.dumps({"prefix": env.prefix, "ns": env.namespaces(), "mnt": mnt, "tmp": tmp,
                          "pids": [p.pid for p in procs.values()]}), flush=True)
        if mode in ("sigterm", "sigkill"):
            time.sleep(30)                 # parent signals us meanwhile
        raise RuntimeError("simulated crash mid-test (%s)" % mode)

    env = NetEnv(2)
    if mode == "finally":
        try:
            body(env)
        finally:
            env.teardown()
    else:
        body(env)    # no try/finally: atexit must clean up


if __name__ == "__main__":
    logging.basicConfig(level=logging.DEBUG if os.environ.get("NETENV_DEBUG") else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if len(sys.argv) == 3 and sys.argv[1] == "--_crash":
        _crash_child(sys.argv[2])
        sys.exit(0)
    try:
        rc = _selftest_main()
    except _SelfTestFailure as e:
        print("SELFTEST FAILED:", e, flush=True)
        rc = 1
    sys.exit(rc)
