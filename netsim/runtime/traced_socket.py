"""A real ``socket.socket`` whose every call a socket program makes is written to the trace.

``TracedSocket`` subclasses ``socket.socket``: it is a socket (``selectors``, ``asyncio``'s ``sock_*``
functions, ``makefile()``, ``ssl`` take it), and each overridden method calls the real one, then
writes one ``call`` event (docs/trace-format.md) with its arguments, its result or errno, the bytes it
moved and the addresses the kernel gives. Methods that may block record when they began
(``start_ns``) as well as when they returned.

Three things the wrapper does besides recording, each so that a run reads like a network of hosts:

* a socket that connects or sends unbound is first bound to its node's own address (AF_INET:
  ``(net.host, 0)``; AF_UNIX stream: the kernel's abstract autobind), so that every address in the
  trace names its node and both ends of every connection name each other;
* a bind to the wildcard address (``""``, ``0.0.0.0``; on IPv6 ``""``, ``::``) binds the node's own
  address (IPv6: ``::1``): a node has no other;
* what a send hands over passes the link's conditions and faults first
  (``netsim.runtime.program_links``): it may be held for the link's latency, dropped (a datagram) or
  refused (a connect across a partition).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from netsim.clock import now_ns
from netsim.runtime.socket_calls import (
    CONNECTED_TRANSPORTS,
    STREAM_TRANSPORTS,
    address_json,
    digest,
    errno_name,
    error_text,
    family_name,
    level_name,
    option_name,
    preview,
    shutdown_name,
    transport_name,
    type_name,
    value_json,
)

if TYPE_CHECKING:
    from netsim.runtime.program_links import ProgramSockets


class TracedSocket(socket.socket):
    """A socket of a socket program's node; made by ``net.socket()``, ``net.listen()`` or ``accept()``."""

    __slots__ = (
        "_net",
        "number",
        "transport",
        "sent",
        "received",
        "_names",
        "_peer",
        "_stream",
        "_whole",
        "_datagram",
        "_bound",
        "_send_lock",
    )

    def _adopt(self, net: ProgramSockets) -> None:
        """Attach the node's bookkeeping; called once, right after construction."""
        self._net = net
        self.number = net.new_number()
        self.transport = transport_name(self.family, self.type)
        self.sent = 0
        self.received = 0
        self._names: tuple[Any, Any] | None = None
        self._peer: str | None = None
        self._bound = False  # whether _bind_before_use has nothing more to do
        self._stream = self.transport in STREAM_TRANSPORTS
        # Kept whole by the kernel: paired by digest, so a digest is recorded for each payload.
        self._whole = not self._stream
        # udp, udp6, unix-dgram: a receive learns its sender only from the kernel's recvfrom.
        self._datagram = self.transport not in CONNECTED_TRANSPORTS
        # One send at a time, whichever of the program's threads sends: a stream's sends then take their
        # offsets in the order the kernel takes their bytes.
        self._send_lock = threading.Lock()

    # ---- the record of one call ---------------------------------------------------------------------

    def _names_now(self) -> tuple[Any, Any]:
        """(sockname, peername) as JSON, asked of the kernel once they can no longer change."""
        names = self._names
        if names is not None:
            return names
        try:
            sockname = address_json(super().getsockname())
        except OSError:
            sockname = None
        try:
            peername = address_json(super().getpeername())
        except OSError:
            peername = None
        if peername is not None:
            # Connected: neither end changes again, so the kernel is not asked again.
            self._names = (sockname, peername)
            self._peer = self._net.peer_of(peername)
        return sockname, peername

    def _forget_names(self) -> None:
        self._names = None

    def _record(
        self,
        call: str,
        *,
        start_ns: int | None = None,
        args: dict[str, Any] | None = None,
        result: Any = None,
        nbytes: int | None = None,
        offset: int | None = None,
        payload: Any = None,
        error: BaseException | None = None,
        to: Any = None,
        peek_preview: Any = None,
    ) -> None:
        net = self._net
        record: dict[str, Any] = {
            "ts_ns": 0,  # when it is written (ProgramSockets.write): the call has returned by then
            "node": net.node_name,
            "event": "call",
            "call": call,
            "sock": self.number,
            "transport": self.transport,
        }
        names = self._names
        if names is not None or not self._closed:  # type: ignore[attr-defined]
            sockname, peername = self._names_now() if names is None else names
            if sockname is not None:
                record["sockname"] = sockname
            if to is not None:
                peername = address_json(to)
            if peername is not None:
                record["peername"] = peername
                peer = self._peer if to is None else net.peer_of(peername)
                if peer is not None:
                    record["peer"] = peer
        if args:
            record["args"] = args
        if result is not None:
            record["result"] = result
        if nbytes is not None:
            record["nbytes"] = nbytes
        if offset is not None:
            record["offset"] = offset
        if payload is not None:
            if self._whole:
                record["digest"] = digest(payload)
            record["preview"] = preview(payload)
        if peek_preview is not None:
            record["preview"] = preview(peek_preview)
        if start_ns is not None:
            record["start_ns"] = start_ns
        if error is not None:
            name = errno_name(error)
            if name is not None:
                record["errno"] = name
            record["error"] = error_text(error)
        net.write(record)

    # ---- addresses: bind, listen, connect, accept ---------------------------------------------------

    def bind(self, address: Any) -> None:
        given = address
        if isinstance(address, tuple) and address and _is_wildcard(address[0]):
            if self.family == socket.AF_INET:
                address = (self._net.host, *address[1:])
            elif self.family == socket.AF_INET6:
                # Not dual-stack "::": that would also take the port on every IPv4 address, other nodes' too.
                address = ("::1", *address[1:])
        try:
            super().bind(address)
        except OSError as error:
            self._record("bind", args={"address": address_json(given)}, error=error)
            raise
        self._forget_names()
        self._bound = True
        if self.family != socket.AF_UNIX:
            self._net.announce(super().getsockname())
        self._record("bind", args={"address": address_json(given)})

    def listen(self, backlog: int | None = None) -> None:
        args = None if backlog is None else {"backlog": backlog}
        try:
            super().listen() if backlog is None else super().listen(backlog)
        except OSError as error:
            self._record("listen", args=args, error=error)
            raise
        self._record("listen", args=args)

    def _bind_before_use(self, destination: Any) -> None:
        """An unbound socket takes its node's address before it connects or sends to a node (see the
        module): its own IPv4 address, ``::1``, or an abstract AF_UNIX name that names the node."""
        if self._bound:
            return
        # Looked at once: after its first connect or send the kernel has bound it, if we did not.
        self._bound = True
        try:
            sockname = super().getsockname()
        except OSError:
            return
        family = self.family
        net = self._net
        address: Any = None
        if family == socket.AF_INET:
            if sockname == ("0.0.0.0", 0) and _host_of(destination).startswith("127."):
                address = (net.host, 0)
        elif family == socket.AF_INET6:
            if sockname[:2] == ("::", 0) and _host_of(destination) == "::1":
                address = ("::1", 0)
        elif family == socket.AF_UNIX and self.type != socket.SOCK_DGRAM and sockname in ("", b""):
            # Bound where the kernel's autobind would have put it, in the abstract namespace, under a
            # name that says which node it is. Not a datagram socket: a real unbound sender cannot be
            # answered, and stays so.
            address = net.client_name(self.number)
        if address is None:
            return
        super().bind(address)
        self._forget_names()
        if family != socket.AF_UNIX:
            net.announce(super().getsockname())
        self._record("bind", args={"address": address_json(address), "by": "netsim"})

    def connect(self, address: Any) -> None:
        self._connect("connect", address)

    def connect_ex(self, address: Any) -> int:
        return self._connect("connect_ex", address)

    def _connect(self, call: str, address: Any) -> int:
        start = now_ns()
        args = {"address": address_json(address)}
        net = self._net
        address = _kernel_form(self.family, address)
        try:
            self._bind_before_use(address)
            net.before_connect(self, address)
            code = super().connect_ex(address) if call == "connect_ex" else super().connect(address)
        except OSError as error:
            if call == "connect_ex" and error.errno and not isinstance(error, socket.gaierror):
                # connect_ex returns what connect would raise (a partition's ENETUNREACH among them).
                self._record(
                    call,
                    start_ns=start,
                    args=args,
                    result=_errno_result(error.errno),
                    error=error,
                    to=address,
                )
                return error.errno
            self._record(call, start_ns=start, args=args, error=error, to=address)
            raise
        self._forget_names()
        if call == "connect_ex":
            self._record(call, start_ns=start, args=args, result=_errno_result(code), to=address)
            return code
        self._record(call, start_ns=start, args=args)
        return 0

    def accept(self) -> tuple[TracedSocket, Any]:
        start = now_ns()
        net = self._net
        blocked = net.waiting_on
        thread = _get_ident()
        if _gettimeout(self) is None:  # a wait with a timeout ends by itself: not idle
            blocked[thread] = _fileno(self)
        try:
            fd, address = self._accept()  # type: ignore[attr-defined]
        except OSError as error:
            self._record("accept", start_ns=start, error=error)
            raise
        finally:
            blocked.pop(thread, None)
        sock = net.adopt(self.family, self.type, self.proto, fd)
        # As socket.socket.accept does: a listener with a timeout gives blocking connections.
        if socket.getdefaulttimeout() is None and self.gettimeout_untraced():
            socket.socket.setblocking(sock, True)
        self._record("accept", start_ns=start, result={"sock": sock.number, "address": address_json(address)})
        return sock, address

    # ---- data out -----------------------------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        return self._send("send", data, flags, None)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._send("sendall", data, flags, None)

    def sendto(self, data: Any, flags_or_address: Any, address: Any = None) -> int:
        if address is None:
            flags, address = 0, flags_or_address
        else:
            flags = flags_or_address
        return self._send("sendto", data, flags, address)

    def sendmsg(self, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None) -> int:
        # The buffers go as one: in order behind what a link holds of this socket (asyncio's transports
        # send with sendmsg), and traced as one call.
        return self._send("sendmsg", b"".join(buffers), flags, address, list(ancdata))  # type: ignore[no-any-return]

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        # os.sendfile would hand the file to the kernel past the link (and past bytes it holds): the
        # file is read and sent with traced send calls instead, as Python does where sendfile is missing.
        return self._sendfile_use_send(file, offset, count)  # type: ignore[attr-defined,no-any-return]

    def _send(self, call: str, data: Any, flags: int, address: Any, ancdata: list[Any] | None = None) -> Any:
        start = now_ns()
        net = self._net
        args: dict[str, Any] | None = {"flags": flags} if flags else None
        if ancdata:
            args = {
                **(args or {}),
                "ancillary": [
                    [level_name(level), kind, memoryview(item).nbytes] for level, kind, item in ancdata
                ],
            }
        if address is not None:
            args = {**(args or {}), "address": address_json(address)}
            # Traced as the kernel names it, so that both ends of a datagram mirror.
            address = _kernel_form(self.family, address)
        try:
            view = memoryview(data)
        except TypeError:
            # socket.send's own words, not memoryview's.
            raise TypeError(f"a bytes-like object is required, not {type(data).__name__!r}") from None
        size = view.nbytes
        with self._send_lock:
            offset = self.sent if self._stream else None
            try:
                if address is not None and not self._bound:
                    self._bind_before_use(address)
                if ancdata:
                    # Ancillary data (descriptors, credentials) is not held by a link: what the link holds
                    # of this socket goes first, then this, at once.
                    net.line.wait_released(self)
                    sent: int | None = super().sendmsg(
                        [view], ancdata, flags, *(() if address is None else (address,))
                    )
                # The link's say comes first, when the run has any condition or fault, or holds bytes.
                elif (net.link_shapers or net.line) and net.shaped_send(self, view, address, start):
                    # Held, or dropped, on its way: for the program, the kernel took it all.
                    sent = size
                elif call == "sendall":
                    super().sendall(view, flags)
                    sent = size
                elif call == "sendto":
                    sent = super().sendto(view, flags, address)
                elif call == "sendmsg":
                    sent = super().sendmsg([view], (), flags, *(() if address is None else (address,)))
                else:
                    sent = super().send(view, flags)
            except OSError as error:
                self._record(call, start_ns=start, args=args, error=error, to=address)
                raise
            if self._stream:
                self.sent += sent
        self._record(
            call, start_ns=start, args=args, nbytes=sent, offset=offset, payload=view[:sent], to=address
        )
        net.calls += 1
        return None if call == "sendall" else sent

    # ---- data in ------------------------------------------------------------------------------------

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        # The receive every tutorial loop makes: its path is written out, not shared.
        start = now_ns()
        blocked = self._net.waiting_on
        thread = _get_ident()
        if _gettimeout(self) is None:  # a wait with a timeout ends by itself: not idle
            blocked[thread] = _fileno(self)
        source = None
        try:
            if self._datagram:
                # The program does not ask who sent it; the trace does (the sender's node, for pairing).
                data, source = _recvfrom(self, bufsize, flags)
            else:
                data = _recv(self, bufsize, flags)
        except OSError as error:
            blocked.pop(thread, None)
            self._record("recv", start_ns=start, args=_receive_args("bufsize", bufsize, flags), error=error)
            raise
        blocked.pop(thread, None)
        self._received_record(
            "recv", start, _receive_args("bufsize", bufsize, flags), data, len(data), source
        )
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        start = now_ns()
        args = _receive_args("nbytes", nbytes or memoryview(buffer).nbytes, flags)
        source = None
        if self._datagram:
            count, source = self._receive(
                "recv_into", start, args, super().recvfrom_into, buffer, nbytes, flags
            )
        else:
            count = self._receive("recv_into", start, args, super().recv_into, buffer, nbytes, flags)
        self._received_record("recv_into", start, args, memoryview(buffer)[:count], count, source)
        return count

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Any]:
        start = now_ns()
        args: dict[str, Any] = {"bufsize": bufsize, "flags": flags} if flags else {"bufsize": bufsize}
        data, address = self._receive("recvfrom", start, args, super().recvfrom, bufsize, flags)
        self._received_record("recvfrom", start, args, data, len(data), address)
        return data, address

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> tuple[int, Any]:
        start = now_ns()
        args: dict[str, Any] = {"nbytes": nbytes or memoryview(buffer).nbytes}
        if flags:
            args["flags"] = flags
        count, address = self._receive(
            "recvfrom_into", start, args, super().recvfrom_into, buffer, nbytes, flags
        )
        self._received_record("recvfrom_into", start, args, memoryview(buffer)[:count], count, address)
        return count, address

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0) -> tuple[bytes, Any, int, Any]:
        start = now_ns()
        args = _receive_args("bufsize", bufsize, flags)
        if ancbufsize:
            args["ancbufsize"] = ancbufsize
        data, ancdata, msg_flags, address = self._receive(
            "recvmsg", start, args, super().recvmsg, bufsize, ancbufsize, flags
        )
        self._received_record("recvmsg", start, args, data, len(data), address)
        return data, ancdata, msg_flags, address

    def recvmsg_into(self, buffers: Any, ancbufsize: int = 0, flags: int = 0) -> tuple[int, Any, int, Any]:
        start = now_ns()
        views = [memoryview(buffer).cast("B") for buffer in buffers]
        args = _receive_args("nbytes", sum(view.nbytes for view in views), flags)
        if ancbufsize:
            args["ancbufsize"] = ancbufsize
        count, ancdata, msg_flags, address = self._receive(
            "recvmsg_into", start, args, super().recvmsg_into, views, ancbufsize, flags
        )
        payload = bytearray()
        for view in views:
            if len(payload) >= count:
                break
            payload += view[: count - len(payload)]
        self._received_record("recvmsg_into", start, args, payload, count, address)
        return count, ancdata, msg_flags, address

    def _receive(self, call: str, start: int, args: dict[str, Any], method: Any, *call_args: Any) -> Any:
        blocked = self._net.waiting_on
        thread = _get_ident()
        if _gettimeout(self) is None:  # a wait with a timeout ends by itself: not idle
            blocked[thread] = _fileno(self)
        try:
            return method(*call_args)
        except OSError as error:
            self._record(call, start_ns=start, args=args, error=error)
            raise
        finally:
            blocked.pop(thread, None)

    def _received_record(
        self, call: str, start: int, args: dict[str, Any], payload: Any, count: int, source: Any
    ) -> None:
        offset = None
        peek = args.get("flags", 0) & socket.MSG_PEEK
        if self._stream and not peek:
            offset = self.received
            self.received += count
        self._record(
            call,
            start_ns=start,
            args=args,
            nbytes=count,
            offset=offset,
            # A peek takes nothing from the socket: no offset, no digest, nothing to pair.
            payload=payload if count and not peek else None,
            peek_preview=payload if count and peek else None,
            to=source or None,
        )
        self._net.calls += 1

    # ---- the socket's end ---------------------------------------------------------------------------

    def shutdown(self, how: int) -> None:
        start = now_ns()
        args = {"how": shutdown_name(how)}
        try:
            if not self._net.shutdown_after_held(self, how):
                super().shutdown(how)
        except OSError as error:
            self._record("shutdown", start_ns=start, args=args, error=error)
            raise
        self._record("shutdown", start_ns=start, args=args)

    def _real_close(self, _ss: Any = socket.socket) -> None:
        # socket.close() comes here once no makefile() of the socket is open (http.client and urllib
        # close the socket and go on reading its file): the descriptor, and the connection, end now.
        if socket.socket.fileno(self) != -1:
            # Recorded first: after the close the kernel has no names to give.
            self._record("close")
            # Bytes a link still holds keep the connection open until they are delivered.
            self._net.close_after_held(self)
        super()._real_close()  # type: ignore[misc]

    def dup(self) -> TracedSocket:
        # A second descriptor of the same kernel socket: traced, its stream offsets going on from here.
        sock = self._net.adopt(self.family, self.type, self.proto, os.dup(_fileno(self)))
        socket.socket.settimeout(sock, self.gettimeout_untraced())
        sock.sent, sock.received, sock._bound = self.sent, self.received, self._bound  # noqa: SLF001
        self._record("dup", result={"sock": sock.number})
        return sock

    def detach(self) -> int:
        # The descriptor leaves netsim's hands (ssl's wrap_socket, STARTTLS): what the link still holds
        # of this socket goes first, as the kernel would have sent it before anything written after.
        self._net.line.wait_released(self)
        self._record("detach")
        return super().detach()

    # ---- options and the rest of the tutorial's table -----------------------------------------------

    def getsockname(self) -> Any:
        return self._name_call("getsockname", super().getsockname)

    def getpeername(self) -> Any:
        return self._name_call("getpeername", super().getpeername)

    def _name_call(self, call: str, method: Any) -> Any:
        try:
            name = method()
        except OSError as error:
            self._record(call, error=error)
            raise
        self._record(call, result=address_json(name))
        return name

    def setsockopt(self, level: int, option: int, value: Any, optlen: Any = None) -> None:
        args = {"level": level_name(level), "option": option_name(level, option), "value": value_json(value)}
        try:
            if optlen is None:
                super().setsockopt(level, option, value)
            else:
                super().setsockopt(level, option, value, optlen)
        except OSError as error:
            self._record("setsockopt", args=args, error=error)
            raise
        self._record("setsockopt", args=args)

    def getsockopt(self, level: int, option: int, buflen: int | None = None) -> Any:
        args: dict[str, Any] = {"level": level_name(level), "option": option_name(level, option)}
        if buflen is not None:
            args["buflen"] = buflen
        try:
            value = (
                super().getsockopt(level, option)
                if buflen is None
                else super().getsockopt(level, option, buflen)
            )
        except OSError as error:
            self._record("getsockopt", args=args, error=error)
            raise
        self._record("getsockopt", args=args, result=value_json(value))
        return value

    def settimeout(self, timeout: float | None) -> None:
        super().settimeout(timeout)
        self._record("settimeout", args={"timeout": timeout})

    def gettimeout(self) -> float | None:
        timeout = super().gettimeout()
        self._record("gettimeout", result=timeout)
        return timeout

    def gettimeout_untraced(self) -> float | None:
        return super().gettimeout()

    def setblocking(self, flag: bool) -> None:
        super().setblocking(flag)
        self._record("setblocking", args={"flag": bool(flag)})

    def fileno(self) -> int:
        number = super().fileno()
        self._record("fileno", result=number)
        return number

    def makefile(self, *args: Any, **kwargs: Any) -> Any:
        mode = args[0] if args else kwargs.get("mode", "r")
        self._record("makefile", args={"mode": mode})
        # Its reads and writes call this socket's recv_into and send: each is traced as such.
        return super().makefile(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<netsim TracedSocket {self.number} {self.transport} fd={socket.socket.fileno(self)}>"

    def describe(self) -> dict[str, Any]:
        """What a ``socket`` call event says of a new socket."""
        return {"family": family_name(self.family), "type": type_name(self.type)}


_recv = socket.socket.recv
_recvfrom = socket.socket.recvfrom
_fileno = socket.socket.fileno  # the kernel's descriptor, untraced
_get_ident = threading.get_ident
_gettimeout = socket.socket.gettimeout


def _host_of(address: Any) -> str:
    return address[0] if isinstance(address, tuple) and address and isinstance(address[0], str) else ""


def _kernel_form(family: int, address: Any) -> Any:
    """``address`` as the kernel will name it: a host name as the address it resolves to (as Python
    resolves it for the call: the first of ``getaddrinfo``), ``localhost`` as its loopback address, an
    IPv6 pair with its flowinfo and scope_id."""
    if not isinstance(address, tuple) or not address:
        return address
    host = address[0]
    if family == socket.AF_INET6:
        host = "::1" if host == "localhost" else _numeric(family, host)
        return (host, *address[1:], 0, 0)[:4] if len(address) < 4 else (host, *address[1:])
    if family == socket.AF_INET:
        host = "127.0.0.1" if host == "localhost" else _numeric(family, host)
        return address if host is address[0] else (host, *address[1:])
    return address


def _numeric(family: int, host: Any) -> Any:
    """``host`` as a numeric address: a name (``socket.gethostname()``, as the socket HOWTO connects
    to) resolved, so that a name of this machine is seen as the loopback address it is."""
    if not isinstance(host, str) or not host or _is_numeric(family, host):
        return host
    return _resolved(family, host)


def _is_numeric(family: int, host: str) -> bool:
    try:
        socket.inet_pton(family, host.partition("%")[0])
    except (OSError, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=64)
def _resolved(family: int, host: str) -> str:
    try:
        return str(socket.getaddrinfo(host, None, family)[0][4][0])
    except (OSError, UnicodeError):
        return host  # the call itself raises what the name's lookup gives


def _is_wildcard(host: Any) -> bool:
    """Whether a bind to ``host`` binds every address: ``""``, ``0.0.0.0``, ``::`` and their spellings."""
    if host == "":
        return True
    if not isinstance(host, str):
        return False
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _receive_args(size_name: str, size: int, flags: int) -> dict[str, Any]:
    return {size_name: size, "flags": flags} if flags else {size_name: size}


def _errno_result(code: int) -> Any:
    if code == 0:
        return 0
    import errno

    return errno.errorcode.get(code, code)
