//! The classic BPF program the kernel runs on every packet of the captured
//! interface before it wakes the exporter: it passes only UDP datagrams (IPv4
//! or IPv6) from or to one of the GWMP ports, drops `lo`'s outgoing copy of
//! each packet (the incoming copy is the one kept), and lets the first
//! fragment of a fragmented datagram through so that it can be counted as
//! `fragment`. Later fragments carry no UDP header, so the kernel cannot tell
//! their port; they are dropped here, or fragmented traffic on any port would
//! wake the exporter (a fragmented datagram is counted once, by its first
//! fragment).
//!
//! The program is data: [`program`] assembles it from the port list, with
//! jumps to named places resolved by a small assembler ([`Asm`]). The socket
//! type is `SOCK_DGRAM`, so offset 0 is the IP header.

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// Instruction classes, sizes, modes and operations (linux/bpf_common.h).
pub const LD: u16 = 0x00;
pub const LDX: u16 = 0x01;
pub const JMP: u16 = 0x05;
pub const RET: u16 = 0x06;
pub const W: u16 = 0x00;
pub const H: u16 = 0x08;
pub const B: u16 = 0x10;
pub const IMM: u16 = 0x00;
pub const ABS: u16 = 0x20;
pub const IND: u16 = 0x40;
pub const MSH: u16 = 0xa0;
pub const JA: u16 = 0x00;
pub const JEQ: u16 = 0x10;
pub const JSET: u16 = 0x40;
pub const K: u16 = 0x00;

/// Ancillary data, read by a load at these offsets (linux/filter.h).
pub const AD_OFF: u32 = 0xffff_f000; // SKF_AD_OFF, -0x1000
pub const AD_PROTOCOL: u32 = AD_OFF; // + SKF_AD_PROTOCOL (0): the ethertype
pub const AD_PKTTYPE: u32 = AD_OFF + 4; // + SKF_AD_PKTTYPE
pub const AD_HATYPE: u32 = AD_OFF + 28; // + SKF_AD_HATYPE

pub const ETH_P_IP: u32 = 0x0800;
pub const ETH_P_IPV6: u32 = 0x86dd;
pub const ARPHRD_LOOPBACK: u32 = 772;
pub const PACKET_OUTGOING: u32 = 4;
pub const IPPROTO_UDP: u32 = 17;
pub const IPV6_FRAGMENT_HEADER: u32 = 44;

/// What an accepted packet may bring: all of it (IPv4's largest is 65535
/// bytes, an IPv6 datagram's 65575).
pub const SNAP_LENGTH: u32 = 0x0004_0000;

/// The most ports one program checks: every jump must stay within 255
/// instructions, and a forwarder talks to a handful of servers.
pub const MAX_PORTS: usize = 16;

/// Where a jump goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum To {
    Next,
    Drop,
    Accept,
    Protocol,
    V6,
    V6Fragment,
    V6Udp,
    Ports,
}

/// An instruction whose jumps name places, before assembly.
struct Step {
    code: u16,
    jt: To,
    jf: To,
    k: u32,
}

/// A program under construction: steps and where each named place is.
#[derive(Default)]
struct Asm {
    steps: Vec<Step>,
    places: Vec<(To, usize)>,
}

impl Asm {
    fn place(&mut self, name: To) {
        self.places.push((name, self.steps.len()));
    }

    fn op(&mut self, code: u16, k: u32) {
        self.jump(code, k, To::Next, To::Next);
    }

    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.steps.push(Step { code, jt, jf, k });
    }

    fn at(&self, name: To) -> usize {
        self.places
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, at)| *at)
            .unwrap_or_else(|| panic!("BPF place {name:?} never placed"))
    }

    /// Resolves every jump to an offset from the next instruction.
    fn assemble(self) -> Vec<Insn> {
        let offset = |from: usize, to: To| -> usize {
            match to {
                To::Next => 0,
                name => self.at(name) - (from + 1),
            }
        };
        let mut out = Vec::with_capacity(self.steps.len());
        for (i, step) in self.steps.iter().enumerate() {
            let (jt, jf) = (offset(i, step.jt), offset(i, step.jf));
            let k = if step.code == JMP | JA {
                jt as u32
            } else {
                step.k
            };
            let short = |o: usize| u8::try_from(o).expect("BPF jump beyond 255");
            let (jt, jf) = if step.code == JMP | JA {
                (0, 0)
            } else {
                (short(jt), short(jf))
            };
            out.push(Insn {
                code: step.code,
                jt,
                jf,
                k,
            });
        }
        out
    }
}

/// The filter for `ports` (1 to [`MAX_PORTS`] of them; the configuration
/// checks that).
pub fn program(ports: &[u16]) -> Vec<Insn> {
    assert!(
        !ports.is_empty() && ports.len() <= MAX_PORTS,
        "BPF program for {} ports",
        ports.len()
    );
    let mut a = Asm::default();
    // On a loopback device every packet comes by twice: keep the incoming copy.
    a.op(LD | W | ABS, AD_HATYPE);
    a.jump(JMP | JEQ | K, ARPHRD_LOOPBACK, To::Next, To::Protocol);
    a.op(LD | W | ABS, AD_PKTTYPE);
    a.jump(JMP | JEQ | K, PACKET_OUTGOING, To::Drop, To::Next);
    a.place(To::Protocol);
    // Which network protocol.
    a.op(LD | W | ABS, AD_PROTOCOL);
    a.jump(JMP | JEQ | K, ETH_P_IPV6, To::V6, To::Next);
    a.jump(JMP | JEQ | K, ETH_P_IP, To::Next, To::Drop);
    // IPv4: UDP, not a later fragment; X = the header length (IHL * 4).
    a.op(LD | B | ABS, 9);
    a.jump(JMP | JEQ | K, IPPROTO_UDP, To::Next, To::Drop);
    a.op(LD | H | ABS, 6);
    a.jump(JMP | JSET | K, 0x1fff, To::Drop, To::Next);
    a.op(LDX | B | MSH, 0);
    a.jump(JMP | JA, 0, To::Ports, To::Ports);
    // IPv6: UDP right after the fixed header, or after a fragment header
    // (first fragment only). Other extension headers are not GWMP's.
    a.place(To::V6);
    a.op(LD | B | ABS, 6);
    a.jump(JMP | JEQ | K, IPPROTO_UDP, To::V6Udp, To::Next);
    a.jump(
        JMP | JEQ | K,
        IPV6_FRAGMENT_HEADER,
        To::V6Fragment,
        To::Drop,
    );
    a.place(To::V6Fragment);
    a.op(LD | B | ABS, 40);
    a.jump(JMP | JEQ | K, IPPROTO_UDP, To::Next, To::Drop);
    a.op(LD | H | ABS, 42);
    a.jump(JMP | JSET | K, 0xfff8, To::Drop, To::Next);
    a.op(LDX | W | IMM, 48);
    a.jump(JMP | JA, 0, To::Ports, To::Ports);
    a.place(To::V6Udp);
    a.op(LDX | W | IMM, 40);
    // Source port, then destination port, against each port of the list.
    a.place(To::Ports);
    for field in [0, 2] {
        a.op(LD | H | IND, field);
        for &port in ports {
            a.jump(JMP | JEQ | K, u32::from(port), To::Accept, To::Next);
        }
    }
    a.place(To::Drop);
    a.op(RET | K, 0);
    a.place(To::Accept);
    a.op(RET | K, SNAP_LENGTH);
    a.assemble()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What the kernel knows about a packet besides its bytes.
    #[derive(Clone, Copy)]
    pub struct Meta {
        pub protocol: u32,
        pub pkttype: u32,
        pub hatype: u32,
    }

    /// A classic BPF interpreter for the instructions [`program`] uses: the
    /// bytes the program would pass (0 = dropped). Out-of-bounds loads end
    /// the program with 0, as the kernel does.
    pub fn run(prog: &[Insn], packet: &[u8], meta: Meta) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let load = |at: u32, size: usize| -> Option<u32> {
            let at = at as usize;
            let bytes = packet.get(at..at.checked_add(size)?)?;
            Some(bytes.iter().fold(0u32, |v, b| v << 8 | u32::from(*b)))
        };
        let ancillary = |k: u32| match k {
            AD_PROTOCOL => meta.protocol,
            AD_PKTTYPE => meta.pkttype,
            AD_HATYPE => meta.hatype,
            other => panic!("ancillary {other:#x}"),
        };
        loop {
            let i = prog[pc];
            pc += 1;
            let size = |code: u16| match code & 0x18 {
                W => 4,
                H => 2,
                _ => 1,
            };
            match i.code {
                c if c & 0x07 == LD && c & 0xe0 == ABS && i.k >= AD_OFF => a = ancillary(i.k),
                c if c & 0x07 == LD && c & 0xe0 == ABS => match load(i.k, size(c)) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c & 0x07 == LD && c & 0xe0 == IND => match load(x + i.k, size(c)) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == LDX | B | MSH => match load(i.k, 1) {
                    Some(v) => x = 4 * (v & 0xf),
                    None => return 0,
                },
                c if c == LDX | W | IMM => x = i.k,
                c if c == JMP | JA => pc += i.k as usize,
                c if c == JMP | JEQ | K => {
                    pc += usize::from(if a == i.k { i.jt } else { i.jf });
                }
                c if c == JMP | JSET | K => {
                    pc += usize::from(if a & i.k != 0 { i.jt } else { i.jf });
                }
                c if c == RET | K => return i.k,
                other => panic!("opcode {other:#x} not interpreted"),
            }
        }
    }

    pub const V4_IN: Meta = Meta {
        protocol: ETH_P_IP,
        pkttype: 0,
        hatype: ARPHRD_LOOPBACK,
    };
    pub const V6_IN: Meta = Meta {
        protocol: ETH_P_IPV6,
        ..V4_IN
    };

    /// An IPv4 packet: `options` 4-byte words of options, the fragment
    /// field, protocol, then a UDP header and payload.
    pub fn ipv4(sport: u16, dport: u16, options: usize, frag: u16, proto: u8) -> Vec<u8> {
        let ihl = 5 + options;
        let mut p = vec![0u8; ihl * 4];
        p[0] = 0x40 | ihl as u8;
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p[8] = 64;
        p[9] = proto;
        p[12..16].copy_from_slice(&[127, 0, 0, 1]);
        p[16..20].copy_from_slice(&[127, 0, 0, 1]);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&12u16.to_be_bytes());
        p.extend_from_slice(&[0, 0, 2, 1, 2, 2]);
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p
    }

    /// An IPv6 packet with UDP, optionally behind a fragment header.
    pub fn ipv6(sport: u16, dport: u16, fragment: Option<u16>, next: u8) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[6] = next;
        p[7] = 64;
        p[23] = 1;
        p[39] = 1;
        if let Some(offset_field) = fragment {
            p[6] = 44;
            p.extend_from_slice(&[next, 0]);
            p.extend_from_slice(&offset_field.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 7]);
        }
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0, 12, 0, 0, 2, 1, 2, 2]);
        let payload = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&payload.to_be_bytes());
        p
    }

    #[test]
    fn passes_the_ports_either_way_and_nothing_else() {
        let prog = program(&[1680, 1700]);
        for (sport, dport, pass) in [
            (40000, 1680, true),
            (1680, 40000, true),
            (1700, 1, true),
            (1, 1700, true),
            (1681, 1679, false),
            (53, 53, false),
        ] {
            for (packet, meta) in [
                (ipv4(sport, dport, 0, 0, 17), V4_IN),
                (ipv6(sport, dport, None, 17), V6_IN),
            ] {
                let got = run(&prog, &packet, meta);
                assert_eq!(got != 0, pass, "{sport} -> {dport}: {got}");
                if pass {
                    assert_eq!(got, SNAP_LENGTH);
                }
            }
        }
    }

    #[test]
    fn ipv4_options_move_the_udp_header() {
        let prog = program(&[1680]);
        assert_ne!(run(&prog, &ipv4(5, 1680, 3, 0, 17), V4_IN), 0);
        assert_eq!(run(&prog, &ipv4(5, 1681, 3, 0, 17), V4_IN), 0);
    }

    #[test]
    fn other_protocols_are_dropped() {
        let prog = program(&[1680]);
        // TCP on the port, ARP, an IPv6 hop-by-hop header.
        assert_eq!(run(&prog, &ipv4(5, 1680, 0, 0, 6), V4_IN), 0);
        let arp = Meta {
            protocol: 0x0806,
            ..V4_IN
        };
        assert_eq!(run(&prog, &ipv4(5, 1680, 0, 0, 17), arp), 0);
        let mut hop_by_hop = ipv6(5, 1680, None, 17);
        hop_by_hop[6] = 0;
        assert_eq!(run(&prog, &hop_by_hop, V6_IN), 0);
    }

    #[test]
    fn first_fragments_pass_later_ones_do_not() {
        let prog = program(&[1680]);
        let more_fragments = 0x2000;
        assert_ne!(run(&prog, &ipv4(5, 1680, 0, more_fragments, 17), V4_IN), 0);
        assert_eq!(run(&prog, &ipv4(5, 1681, 0, more_fragments, 17), V4_IN), 0);
        // Offset 8 bytes (field value 1), with or without MF.
        assert_eq!(run(&prog, &ipv4(5, 1680, 0, 1, 17), V4_IN), 0);
        assert_eq!(run(&prog, &ipv4(5, 1680, 0, 0x2001, 17), V4_IN), 0);
        // IPv6: offset 0 with M set passes; offset 8 (field 8 << 3) does not.
        assert_ne!(run(&prog, &ipv6(5, 1680, Some(1), 17), V6_IN), 0);
        assert_eq!(run(&prog, &ipv6(5, 1681, Some(1), 17), V6_IN), 0);
        assert_eq!(run(&prog, &ipv6(5, 1680, Some(8 << 3), 17), V6_IN), 0);
        assert_eq!(run(&prog, &ipv6(5, 1680, Some(1), 6), V6_IN), 0);
    }

    #[test]
    fn loopback_keeps_the_incoming_copy_only() {
        let prog = program(&[1680]);
        let packet = ipv4(5, 1680, 0, 0, 17);
        let outgoing = Meta {
            pkttype: PACKET_OUTGOING,
            ..V4_IN
        };
        assert_eq!(run(&prog, &packet, outgoing), 0);
        // On Ethernet (hatype 1) the outgoing copy is the only one.
        let ethernet_out = Meta {
            hatype: 1,
            ..outgoing
        };
        assert_ne!(run(&prog, &packet, ethernet_out), 0);
    }

    #[test]
    fn truncated_headers_end_the_program_with_drop() {
        let prog = program(&[1680]);
        let packet = ipv4(5, 1680, 0, 0, 17);
        for cut in [0, 5, 9, 20, 21] {
            assert_eq!(run(&prog, &packet[..cut], V4_IN), 0, "{cut}");
        }
    }

    #[test]
    fn sixteen_ports_keep_every_jump_in_range() {
        let ports: Vec<u16> = (1..=MAX_PORTS as u16).map(|p| p * 1000).collect();
        let prog = program(&ports);
        for &port in &ports {
            assert_ne!(run(&prog, &ipv4(5, port, 0, 0, 17), V4_IN), 0);
            assert_ne!(run(&prog, &ipv6(port, 5, None, 17), V6_IN), 0);
        }
        assert_eq!(run(&prog, &ipv4(5, 1, 0, 0, 17), V4_IN), 0);
        // Drop then accept, last.
        let n = prog.len();
        assert_eq!(
            prog[n - 2],
            Insn {
                code: RET,
                jt: 0,
                jf: 0,
                k: 0
            }
        );
        assert_eq!(prog[n - 1].k, SNAP_LENGTH);
    }
}
