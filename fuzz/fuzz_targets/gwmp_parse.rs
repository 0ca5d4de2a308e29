//! The capture path after the kernel: whatever bytes arrive, read once as
//! an IP packet (`packet::udp`) and once as a UDP payload (`gwmp::parse`),
//! then taken into the collector's state and rendered, on a thread with the
//! capture thread's stack size. Nothing may panic, overflow the stack, keep
//! more than the bounded number of EUIs or unacknowledged pushes, or render
//! a non-finite counter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linxdot_exporter::exposition::Exposition;
use linxdot_exporter::lora::gwmp::{parse, Body, Invalid};
use linxdot_exporter::lora::packet::udp;
use linxdot_exporter::lora::state::{State, MAX_GATEWAYS, MAX_PENDING};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// The stack of the `lora-capture` thread (src/lora/capture.rs).
const CAPTURE_STACK: usize = 256 * 1024;

fn check(data: &[u8]) {
    let mut state = State::default();
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let (a, b): (SocketAddr, SocketAddr) = ("127.0.0.1:40000".parse().unwrap(), "127.0.0.1:1680".parse().unwrap());
    let payloads = [Some(data), udp(data).ok().map(|u| u.payload)];
    for payload in payloads.into_iter().flatten() {
        match parse(payload) {
            Ok(datagram) => {
                if let Body::Push { rx, stat } = &datagram.body {
                    for packet in rx {
                        assert!(packet.rssi.is_none_or(f64::is_finite));
                        assert!(packet.snr.is_none_or(f64::is_finite));
                    }
                    if let Some(stat) = stat {
                        assert!(stat.counters.iter().flatten().all(|n| n.is_finite() && *n >= 0.0));
                    }
                }
                // Twice, both ways: the second counts as a repeat and an ack.
                let _ = state.record(&datagram, a, b, at);
                let _ = state.record(&datagram, b, a, at);
            }
            Err(malformed) => {
                assert!(!matches!(malformed.reason, Invalid::Fragment | Invalid::TooManyGateways));
                assert!(!malformed.detail.contains(char::is_control), "{:?}", malformed.detail);
                state.count_invalid(malformed.reason);
            }
        }
    }
    assert!(state.gateways.len() <= MAX_GATEWAYS);
    assert!(state.pending() <= MAX_PENDING);
    let mut out = Exposition::new();
    linxdot_exporter::lora::render(&state, &mut out);
    let text = out.into_string();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap_or("");
        let number: f64 = value.parse().unwrap_or(f64::NAN);
        assert!(number.is_finite(), "a sample that is not a finite number: {line}");
    }
}

fuzz_target!(|data: &[u8]| {
    // A captured packet is at most an IP datagram.
    if data.len() > 65_575 {
        return;
    }
    let bytes = data.to_vec();
    std::thread::Builder::new()
        .stack_size(CAPTURE_STACK)
        .spawn(move || check(&bytes))
        .expect("spawn")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
});
