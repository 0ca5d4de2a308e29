//! The network-layer packet the capture socket hands over (an IPv4 or IPv6
//! header, then UDP) → the UDP datagram's addresses and payload. Nothing is
//! guessed: a datagram that is not whole in this one packet (an IP
//! fragment) or a header that does not hold together is said so.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A UDP datagram as it travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp<'a> {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub payload: &'a [u8],
}

/// Why a captured packet gives no whole datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotWhole {
    /// One fragment of a datagram split over several packets.
    Fragment,
    /// Shorter than its headers say, or not IPv4/IPv6 UDP at all.
    Short,
}

const UDP_HEADER: usize = 8;
const IPPROTO_UDP: u8 = 17;
const IPV6_FRAGMENT_HEADER: u8 = 44;

/// The UDP datagram in `packet` (which starts at the IP header).
pub fn udp(packet: &[u8]) -> Result<Udp<'_>, NotWhole> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => ipv4(packet),
        Some(6) => ipv6(packet),
        _ => Err(NotWhole::Short),
    }
}

fn ipv4(packet: &[u8]) -> Result<Udp<'_>, NotWhole> {
    let header = usize::from(packet[0] & 0x0f) * 4;
    if header < 20 || packet.len() < header {
        return Err(NotWhole::Short);
    }
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if total < header || total > packet.len() {
        return Err(NotWhole::Short);
    }
    if packet[9] != IPPROTO_UDP {
        return Err(NotWhole::Short);
    }
    // More-fragments flag, or a fragment offset: not the whole datagram.
    if u16::from_be_bytes([packet[6], packet[7]]) & 0x3fff != 0 {
        return Err(NotWhole::Fragment);
    }
    let source = IpAddr::V4(Ipv4Addr::new(
        packet[12], packet[13], packet[14], packet[15],
    ));
    let destination = IpAddr::V4(Ipv4Addr::new(
        packet[16], packet[17], packet[18], packet[19],
    ));
    datagram(&packet[header..total], source, destination)
}

fn ipv6(packet: &[u8]) -> Result<Udp<'_>, NotWhole> {
    if packet.len() < 40 {
        return Err(NotWhole::Short);
    }
    let end = 40 + usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    if end > packet.len() {
        return Err(NotWhole::Short);
    }
    let address = |at: usize| {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&packet[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(bytes))
    };
    match packet[6] {
        IPPROTO_UDP => datagram(&packet[40..end], address(8), address(24)),
        IPV6_FRAGMENT_HEADER => Err(NotWhole::Fragment),
        _ => Err(NotWhole::Short),
    }
}

/// The UDP header and payload, trimmed to the UDP length.
fn datagram(udp: &[u8], source: IpAddr, destination: IpAddr) -> Result<Udp<'_>, NotWhole> {
    if udp.len() < UDP_HEADER {
        return Err(NotWhole::Short);
    }
    let length = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if length < UDP_HEADER || length > udp.len() {
        return Err(NotWhole::Short);
    }
    Ok(Udp {
        source: SocketAddr::new(source, u16::from_be_bytes([udp[0], udp[1]])),
        destination: SocketAddr::new(destination, u16::from_be_bytes([udp[2], udp[3]])),
        payload: &udp[UDP_HEADER..length],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lora::bpf::tests::{ipv4 as v4, ipv6 as v6};

    #[test]
    fn ipv4_and_ipv6_datagrams() {
        let (a, b, c) = (
            v4(40000, 1680, 0, 0, 17),
            v4(1, 2, 2, 0, 17),
            v6(1680, 40000, None, 17),
        );
        let got = udp(&a).unwrap();
        assert_eq!(got.source, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(got.destination, "127.0.0.1:1680".parse().unwrap());
        assert_eq!(got.payload, [2, 1, 2, 2]);
        let got = udp(&b).unwrap();
        assert_eq!(got.payload, [2, 1, 2, 2], "after two option words");
        let got = udp(&c).unwrap();
        assert_eq!(got.source, "[::1]:1680".parse().unwrap());
        assert_eq!(got.payload, [2, 1, 2, 2]);
    }

    #[test]
    fn trailing_padding_is_not_payload() {
        let mut packet = v4(1, 1680, 0, 0, 17);
        packet.extend_from_slice(&[0xee; 6]);
        assert_eq!(udp(&packet).unwrap().payload, [2, 1, 2, 2]);
    }

    #[test]
    fn fragments_are_not_guessed_at() {
        assert_eq!(udp(&v4(1, 1680, 0, 0x2000, 17)), Err(NotWhole::Fragment));
        assert_eq!(udp(&v4(1, 1680, 0, 0x0001, 17)), Err(NotWhole::Fragment));
        assert_eq!(udp(&v6(1, 1680, Some(1), 17)), Err(NotWhole::Fragment));
    }

    #[test]
    fn broken_headers_are_short_never_a_panic() {
        let packet = v4(1, 1680, 0, 0, 17);
        for cut in 0..packet.len() {
            assert_eq!(udp(&packet[..cut]), Err(NotWhole::Short), "{cut}");
        }
        let packet = v6(1, 1680, None, 17);
        for cut in 0..packet.len() {
            assert_eq!(udp(&packet[..cut]), Err(NotWhole::Short), "{cut}");
        }
        let mut bad_udp_length = v4(1, 1680, 0, 0, 17);
        bad_udp_length[25] = 200;
        assert_eq!(udp(&bad_udp_length), Err(NotWhole::Short));
        let mut bad_ihl = v4(1, 1680, 0, 0, 17);
        bad_ihl[0] = 0x44;
        assert_eq!(udp(&bad_ihl), Err(NotWhole::Short));
        assert_eq!(udp(&[0x00; 40]), Err(NotWhole::Short));
    }
}
