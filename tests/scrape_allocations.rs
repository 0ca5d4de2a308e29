//! A keep-alive scrape allocates nothing: the whole exporter (its real
//! start, the miner collector polling the dashboard simulator, build info,
//! the process families) in this process, under an allocator that counts,
//! and 1,000 scrapes over one connection after a warm-up.
//!
//! One test in its own binary: the count is process-wide, so nothing else
//! may run beside it. The client here allocates nothing either (a fixed
//! request, a fixed buffer), and the background threads sleep (the poll
//! interval is an hour; the simulator is asked nothing meanwhile).

use linxdot_exporter::config::{parse, Action};
use linxdot_exporter::exporter::{self, TemperSource};
use linxdot_sim::dashboard::Dashboard;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting every allocation and reallocation.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; the
// counter is a side effect that allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// One request over `stream`, its answer read into `buffer`: the status
/// line is checked and the body returned. Allocates nothing.
fn exchange<'b>(stream: &mut TcpStream, request: &[u8], buffer: &'b mut [u8]) -> &'b [u8] {
    stream.write_all(request).unwrap();
    let mut held = 0;
    loop {
        let n = stream.read(&mut buffer[held..]).unwrap();
        assert!(
            n > 0,
            "the exporter closed the connection: {:?}",
            String::from_utf8_lossy(&buffer[..held])
        );
        held += n;
        let Some(head_end) = buffer[..held].windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = &buffer[..head_end];
        assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"), "not 200");
        const LENGTH: &[u8] = b"\r\nContent-Length: ";
        let at = head
            .windows(LENGTH.len())
            .position(|w| w == LENGTH)
            .unwrap()
            + LENGTH.len();
        let length = head[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0usize, |n, b| n * 10 + usize::from(b - b'0'));
        let body_start = head_end + 4;
        if held >= body_start + length {
            assert_eq!(held, body_start + length, "more than one answer");
            return &buffer[body_start..held];
        }
    }
}

#[test]
fn a_keep_alive_scrape_allocates_nothing() {
    let dashboard = Dashboard::start();
    let argv = [
        "linxdot-exporter",
        "--bind-address",
        "127.0.0.1",
        "--port",
        "0",
        "--no-temper",
        "-o",
        &dashboard.host(),
        "-u",
        "admin",
        "-p",
        "admin",
        "-r",
        "3600",
    ];
    let argv = argv.iter().skip(1).map(std::ffi::OsString::from).collect();
    let Ok(Action::Run(config)) = parse(argv, &|_| None) else {
        panic!("the configuration does not parse")
    };
    let server = exporter::start(&config, TemperSource::Usb).unwrap();
    // Two connections, each well below the 1,000 requests a connection
    // may carry, so that neither is closed (and a new one set up) during
    // the count.
    let mut streams = [(); 2].map(|()| TcpStream::connect(server.local_addr()).unwrap());
    let [stream, other] = &mut streams;
    let mut buffer = vec![0u8; 1 << 20];
    let scrape = b"GET /metrics HTTP/1.1\r\nHost: t\r\nUser-Agent: Prometheus/3.0\r\n\
                   Accept: text/plain;version=0.0.4\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n";
    // Warm-up, until the first dashboard poll is in the scrape (a sample
    // line, not only the HELP and TYPE lines of the miner families), and
    // the poller has gone to sleep after it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let body = exchange(stream, scrape, &mut buffer);
        if body.windows(7).any(|w| w == b"\nminer_") && body.ends_with(b"\n") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no miner families");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    for _ in 0..20 {
        exchange(stream, scrape, &mut buffer);
        exchange(other, scrape, &mut buffer);
    }

    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let mut bytes = 0;
    for _ in 0..500 {
        bytes += exchange(stream, scrape, &mut buffer).len();
        bytes += exchange(other, scrape, &mut buffer).len();
    }
    let during = ALLOCATIONS.load(Ordering::SeqCst) - before;
    assert!(bytes > 1_000 * 1_000, "{bytes} bytes in 1,000 scrapes");
    assert_eq!(during, 0, "allocations in 1,000 keep-alive scrapes");

    // The counter sees the server's threads: the landing page, built as a
    // string each time, counts.
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    exchange(stream, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", &mut buffer);
    assert!(
        ALLOCATIONS.load(Ordering::SeqCst) > before,
        "the counter sees nothing"
    );
    server.stop();
}
