//! Every system call of the LoRa capture, and all its `unsafe`: the
//! `AF_PACKET` socket with its BPF filter, the receive with the kernel's
//! timestamp and packet type, `PACKET_STATISTICS`, and the eventfd that
//! wakes the capture thread to stop. The rest of `lora/` is safe code.
//!
//! The socket is made in the order that lets no unfiltered packet in:
//! created with protocol 0 (it receives nothing), the filter attached, then
//! bound to the interface with `ETH_P_ALL`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, SystemTime};

use super::bpf::Insn;

// linux/if_packet.h and asm-generic/socket.h values the libc crate does not
// export for every target (the same on x86_64, aarch64, arm and riscv).
const SO_ATTACH_FILTER: libc::c_int = 26;
const SO_TIMESTAMPNS: libc::c_int = 35;
const SO_RCVBUFFORCE: libc::c_int = 33;
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_MR_PROMISC: libc::c_ushort = 1;
/// `sll_pkttype` of a packet the host sent.
pub const PACKET_OUTGOING: u8 = 4;
const ARPHRD_LOOPBACK: u16 = 772;
/// The socket's receive buffer asked for, in bytes (the kernel doubles it
/// for its bookkeeping).
const RECEIVE_BUFFER: libc::c_int = 1024 * 1024;

#[repr(C)]
struct TpacketStats {
    tp_packets: libc::c_uint,
    tp_drops: libc::c_uint,
}

#[repr(C)]
struct PacketMreq {
    mr_ifindex: libc::c_int,
    mr_type: libc::c_ushort,
    mr_alen: libc::c_ushort,
    mr_address: [libc::c_uchar; 8],
}

/// Why the capture socket could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// `CAP_NET_RAW` is missing (the socket call said EPERM or EACCES).
    Privilege(io::Error),
    /// No interface of that name (now).
    Interface(io::Error),
    /// Anything else, with the step that failed.
    Other(&'static str, io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Privilege(e) => write!(f, "no CAP_NET_RAW ({e})"),
            OpenError::Interface(e) => write!(f, "no such interface ({e})"),
            OpenError::Other(step, e) => write!(f, "{step}: {e}"),
        }
    }
}

/// One received packet, as the kernel handed it over.
pub struct Packet<'a> {
    /// From the IP header on.
    pub data: &'a [u8],
    /// The packet was longer than the buffer.
    pub truncated: bool,
    /// `lo`'s outgoing copy (the filter drops these; checked again here).
    pub loopback_outgoing: bool,
    /// When the kernel received it.
    pub at: SystemTime,
}

/// An open, filtered, bound `AF_PACKET` socket.
pub struct Socket {
    fd: OwnedFd,
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points at a live `T` of the size passed; the kernel
    // copies it and keeps no pointer.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(last_error())
    }
}

impl Socket {
    /// Opens the capture on `interface` with `program` as its filter.
    pub fn open(interface: &str, program: &[Insn]) -> Result<Socket, OpenError> {
        let name = CString::new(interface)
            .map_err(|_| OpenError::Interface(io::Error::from(io::ErrorKind::InvalidInput)))?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(OpenError::Interface(last_error()));
        }
        // SAFETY: plain socket(2); the descriptor is owned right below.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if raw < 0 {
            let e = last_error();
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => OpenError::Privilege(e),
                _ => OpenError::Other("socket(AF_PACKET)", e),
            });
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let mut filter: Vec<libc::sock_filter> = program
            .iter()
            .map(|i| libc::sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect();
        let fprog = libc::sock_fprog {
            len: filter.len() as libc::c_ushort,
            filter: filter.as_mut_ptr(),
        };
        // The kernel copies the program during the call; `filter` outlives it.
        setsockopt(&fd, libc::SOL_SOCKET, SO_ATTACH_FILTER, &fprog)
            .map_err(|e| OpenError::Other("attaching the BPF filter", e))?;
        // Room for bursts while the thread waits for a core: kernel memory,
        // used only while datagrams wait. Beyond net.core.rmem_max only with
        // CAP_NET_ADMIN (root on OpenWrt); otherwise up to rmem_max.
        let room: libc::c_int = RECEIVE_BUFFER;
        if setsockopt(&fd, libc::SOL_SOCKET, SO_RCVBUFFORCE, &room).is_err() {
            let _ = setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &room);
        }
        let on: libc::c_int = 1;
        setsockopt(&fd, libc::SOL_SOCKET, SO_TIMESTAMPNS, &on)
            .map_err(|e| OpenError::Other("SO_TIMESTAMPNS", e))?;

        // SAFETY: an all-zero sockaddr_ll is a valid value to fill in.
        let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        address.sll_family = libc::AF_PACKET as libc::c_ushort;
        address.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        address.sll_ifindex = index as libc::c_int;
        // SAFETY: `address` is a sockaddr_ll of the length passed.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&address as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r != 0 {
            let e = last_error();
            return Err(match e.raw_os_error() {
                Some(libc::ENODEV) | Some(libc::ENXIO) => OpenError::Interface(e),
                _ => OpenError::Other("bind to the interface", e),
            });
        }
        // A bridge hands the packets it forwards between two of its ports
        // to its own packet sockets only while promiscuous; the membership
        // ends when the socket closes.
        if std::path::Path::new(&format!("/sys/class/net/{interface}/bridge")).exists() {
            let request = PacketMreq {
                mr_ifindex: index as libc::c_int,
                mr_type: PACKET_MR_PROMISC,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(&fd, libc::SOL_PACKET, PACKET_ADD_MEMBERSHIP, &request)
                .map_err(|e| OpenError::Other("promiscuous mode on the bridge", e))?;
        }
        let socket = Socket { fd };
        // Counted from here on.
        socket
            .statistics()
            .map_err(|e| OpenError::Other("PACKET_STATISTICS", e))?;
        Ok(socket)
    }

    /// The next queued packet, `None` when the queue is empty.
    pub fn receive<'b>(&self, buffer: &'b mut [u8]) -> io::Result<Option<Packet<'b>>> {
        // SAFETY: zeroed sockaddr_ll and msghdr are valid initial values.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        // Room for one cmsg with a timespec (8-byte aligned).
        let mut control = [0u64; 8];
        let mut iov = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        // SAFETY: as above.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
        message.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `message` points at a live buffer of the
        // length given; MSG_TRUNC makes the result the packet's real length.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut message, libc::MSG_TRUNC) };
        if n < 0 {
            let e = last_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let length = n as usize;
        let mut at = None;
        // SAFETY: the CMSG_* macros walk the control buffer the kernel filled
        // in, bounded by msg_controllen; the timespec is read unaligned.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&message);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == SO_TIMESTAMPNS {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    at = Some(
                        SystemTime::UNIX_EPOCH
                            + Duration::new(
                                ts.tv_sec.max(0) as u64,
                                ts.tv_nsec.clamp(0, 999_999_999) as u32,
                            ),
                    );
                }
                cmsg = libc::CMSG_NXTHDR(&message, cmsg);
            }
        }
        Ok(Some(Packet {
            data: &buffer[..length.min(buffer.len())],
            truncated: length > buffer.len(),
            loopback_outgoing: from.sll_pkttype == PACKET_OUTGOING
                && from.sll_hatype == ARPHRD_LOOPBACK,
            at: at.unwrap_or_else(SystemTime::now),
        }))
    }

    /// Packets the kernel dropped since the last call (it resets them).
    pub fn statistics(&self) -> io::Result<u64> {
        let mut stats = TpacketStats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut length = std::mem::size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: `stats` and `length` are live and describe each other.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_STATISTICS,
                (&mut stats as *mut TpacketStats).cast(),
                &mut length,
            )
        };
        if r != 0 {
            return Err(last_error());
        }
        Ok(u64::from(stats.tp_drops))
    }
}

/// An eventfd that ends a [`wait`].
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        // SAFETY: plain eventfd(2); the descriptor is owned right below.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(last_error());
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        Ok(Waker {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    /// Makes every later [`wait`] return at once.
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one` to the eventfd.
        unsafe {
            libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }
}

/// What ended a [`wait`].
#[derive(Debug, PartialEq, Eq)]
pub enum Woken {
    /// Packets are queued.
    Packets,
    /// The socket failed (the interface went away or down).
    SocketError,
    /// The [`Waker`] was woken.
    Stop,
    Timeout,
}

/// Sleeps until the socket has packets or fails, the waker is woken, or
/// `timeout` passes (`None`: no timeout). No other wake-up.
pub fn wait(socket: &Socket, waker: &Waker, timeout: Option<Duration>) -> io::Result<Woken> {
    let mut fds = [
        libc::pollfd {
            fd: waker.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: socket.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms = timeout.map_or(-1, |t| {
        t.as_millis().clamp(1, i32::MAX as u128) as libc::c_int
    });
    // SAFETY: `fds` is a live array of two pollfd.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
    if r < 0 {
        let e = last_error();
        return match e.kind() {
            io::ErrorKind::Interrupted => Ok(Woken::Timeout),
            _ => Err(e),
        };
    }
    Ok(if fds[0].revents != 0 {
        Woken::Stop
    } else if fds[1].revents & libc::POLLIN != 0 {
        Woken::Packets
    } else if fds[1].revents != 0 {
        Woken::SocketError
    } else {
        Woken::Timeout
    })
}
