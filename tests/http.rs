//! The HTTP server over real TCP on loopback: every status it can answer,
//! keep-alive, pipelining, and that idle clients cannot starve a scrape.

use http::{ServerConfig, ServerHandle};
use linxdot_exporter::collector::Registry;
use linxdot_exporter::exporter::{App, BuildInfoCollector};
use linxdot_sim::exporter::Exporter;
use linxdot_sim::http::{
    get, http_request, http_request_bytes, parse_answer, read_all, split_answers, HttpAnswer,
};
use linxdot_sim::wait;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The exporter's real routes over a registry with one collector.
fn server(config: ServerConfig) -> ServerHandle {
    let mut registry = Registry::new();
    registry.register(Box::new(BuildInfoCollector));
    let listener = http::bind(Some("127.0.0.1".parse().unwrap()), 0, None).unwrap();
    http::serve(listener, App::new(registry), config).unwrap()
}

fn build_info_body() -> String {
    format!(
        "# HELP linxdot_exporter_build_info A metric with a constant '1' value labeled by the version of linxdot-exporter\n\
         # TYPE linxdot_exporter_build_info gauge\nlinxdot_exporter_build_info{{version=\"{}\"}} 1.0\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[test]
fn metrics_answer_with_the_exposition_content_type_and_length() {
    let s = server(ServerConfig::default());
    let a = get(s.local_addr(), "/metrics");
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(a.body, build_info_body());
    assert_eq!(a.header("content-length"), Some(a.body.len().to_string()));
    assert_eq!(a.header("connection").as_deref(), Some("close"));
    // A query string does not change the route.
    assert_eq!(
        get(s.local_addr(), "/metrics?name[]=x").body,
        build_info_body()
    );
}

#[test]
fn head_has_the_headers_of_get_and_no_body() {
    let s = server(ServerConfig::default());
    let a = http_request(
        s.local_addr(),
        "HEAD /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-length"),
        Some(build_info_body().len().to_string())
    );
    assert_eq!(a.body, "");
}

#[test]
fn the_landing_page_links_the_metrics() {
    let s = server(ServerConfig::default());
    let a = get(s.local_addr(), "/");
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(
        a.body.contains("<a href=\"/metrics\">Metrics</a>"),
        "{}",
        a.body
    );
}

#[test]
fn status_table() {
    let s = server(ServerConfig::default());
    let big_header = format!(
        "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let table: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "unknown path",
            b"GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(),
            404,
        ),
        (
            "POST",
            b"POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_vec(),
            405,
        ),
        (
            "DELETE /",
            b"DELETE / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(),
            405,
        ),
        (
            "garbage",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
            400,
        ),
        ("no version", b"GET /metrics\r\n\r\n".to_vec(), 400),
        ("no host", b"GET /metrics HTTP/1.1\r\n\r\n".to_vec(), 400),
        ("HTTP/2", b"GET /metrics HTTP/2.0\r\n\r\n".to_vec(), 505),
        ("head over 8 KiB", big_header.into_bytes(), 431),
        (
            "HTTP/1.0 without host",
            b"GET /metrics HTTP/1.0\r\n\r\n".to_vec(),
            200,
        ),
    ];
    for (what, raw, want) in table {
        let a = http_request_bytes(s.local_addr(), &raw);
        assert_eq!(a.status, want, "{what}: {}", a.head);
        if want == 405 {
            assert_eq!(a.header("allow").as_deref(), Some("GET, HEAD"), "{what}");
        }
    }
}

#[test]
fn a_head_that_never_ends_gets_408_after_the_deadline() {
    let s = server(ServerConfig {
        head_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    });
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    assert_eq!(parse_answer(&out).status, 408);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_head_deadline() {
    let s = server(ServerConfig {
        head_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    });
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The answer, then the server's close (not the read timeout).
    let mut out = Vec::new();
    c.read_to_end(&mut out).expect("closed by the server");
    let a = parse_answer(&out);
    assert_eq!(a.header("connection").as_deref(), Some("keep-alive"));
    assert_eq!(a.body, build_info_body());
}

#[test]
fn deadlines_still_fire_after_every_connection_closed() {
    // The last connection closing disarms the deadline timer; the next
    // connection's deadline must arm it again.
    let s = server(ServerConfig {
        head_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    });
    for _ in 0..3 {
        assert_eq!(get(s.local_addr(), "/metrics").status, 200);
        let mut c = TcpStream::connect(s.local_addr()).unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut out = Vec::new();
        c.read_to_end(&mut out).expect("closed by the server");
        assert_eq!(parse_answer(&out).status, 408);
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let s = server(ServerConfig::default());
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let expected = build_info_body();
    for _ in 0..3 {
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while !String::from_utf8_lossy(&got).ends_with(&expected) {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
        }
        let a = parse_answer(&got);
        assert_eq!(a.header("connection").as_deref(), Some("keep-alive"));
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = server(ServerConfig::default());
    let raw = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n\
               GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let a = http_request(s.local_addr(), raw);
    let text = format!("{}\r\n\r\n{}", a.head, a.body);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "404", "200"], "{text}");
}

#[test]
fn a_connection_is_closed_after_its_last_allowed_request() {
    let s = server(ServerConfig {
        max_requests_per_connection: 3,
        ..ServerConfig::default()
    });
    let mut stream = TcpStream::connect(s.local_addr()).unwrap();
    let five = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n".repeat(5);
    stream.write_all(five.as_bytes()).unwrap();
    // The server closes after the third answer: read_all returns then.
    let answers = split_answers(&read_all(&mut stream));
    let connection: Vec<_> = answers
        .iter()
        .map(|a| (a.status, a.header("connection").unwrap_or_default()))
        .collect();
    assert_eq!(
        connection,
        [
            (200, "keep-alive".into()),
            (200, "keep-alive".into()),
            (200, "close".into())
        ]
    );
}

/// A server whose closing connections drain for 10 s, so that a test acts
/// well within the drain.
fn draining_server() -> ServerHandle {
    server(ServerConfig {
        drain_for: Duration::from_secs(10),
        ..ServerConfig::default()
    })
}

/// `GET /metrics` with `Connection: close`, its whole answer read: the
/// server has shut its side and drains what comes next.
fn answered_and_shut(addr: SocketAddr) -> TcpStream {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(parse_answer(&read_all(&mut c)).status, 200);
    c.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    c
}

#[test]
fn what_a_client_sends_after_its_last_answer_is_drained_not_reset() {
    let s = draining_server();
    let mut c = answered_and_shut(s.local_addr());
    // Had the server closed instead of reading, the first write would draw
    // a reset, and the next ones fail.
    for _ in 0..4 {
        c.write_all(&[b'x'; 16 * 1024]).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_closing_connection_drains_at_most_256_kib() {
    let s = draining_server();
    let mut c = answered_and_shut(s.local_addr());
    let chunk = [b'x'; 16 * 1024];
    // Past the cap the server closes: writes then fail with a reset, long
    // before the 10 s drain is over.
    wait::poll(
        "a write refused once 256 KiB were drained",
        Duration::from_secs(5),
        Duration::from_millis(10),
        || match c.write_all(&chunk) {
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        },
    );
}

#[test]
fn a_request_body_is_never_read_as_the_next_request() {
    let s = server(ServerConfig::default());
    // Each body is itself a request: were it read as one, a second answer
    // (a 404) would follow the first.
    let smuggled = "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n";
    let chunked = format!("{:x}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len());
    for (head, body, status) in [
        (
            format!(
                "GET /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                smuggled.len()
            ),
            smuggled.to_string(),
            200,
        ),
        (
            format!(
                "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                smuggled.len()
            ),
            smuggled.to_string(),
            405,
        ),
        (
            "POST /metrics HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_string(),
            chunked.clone(),
            405,
        ),
    ] {
        let a = http_request(s.local_addr(), &format!("{head}{body}"));
        assert_eq!(a.status, status, "{head}");
        assert_eq!(a.header("connection").as_deref(), Some("close"), "{head}");
        let all = format!("{}\r\n\r\n{}", a.head, a.body);
        assert_eq!(
            all.matches("HTTP/1.1 ").count(),
            1,
            "{head}{body} got:\n{all}"
        );
    }
}

/// A scrape on a server with `idle` connections open that never speak
/// (each taken into the table first), and how long it took.
fn scrape_behind_idle(config: ServerConfig, idle: usize) -> (HttpAnswer, Duration) {
    let s = server(config);
    let idle: Vec<TcpStream> = (0..idle)
        .map(|_| TcpStream::connect(s.local_addr()).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let answer = get(s.local_addr(), "/metrics");
    let took = started.elapsed();
    drop(idle);
    (answer, took)
}

#[test]
fn idle_connections_do_not_starve_a_scrape() {
    let (a, took) = scrape_behind_idle(ServerConfig::default(), 100);
    assert_eq!(a.status, 200);
    assert!(
        took < Duration::from_secs(1),
        "scrape took {took:?} behind idle connections"
    );
}

/// Whether this host has IPv6: what the exporter's default bind depends on.
fn host_has_ipv6() -> bool {
    std::net::TcpListener::bind("[::]:0").is_ok()
}

#[test]
fn the_binary_serves_on_dual_stack_by_default() {
    let exp = Exporter::start_exact(&["--port", "0", "--no-temper"], &[]);
    let port = exp.addr.port();
    let v4 = || get(SocketAddr::from(([127, 0, 0, 1], port)), "/metrics");
    if !host_has_ipv6() {
        linxdot_sim::skip::skip(
            "part of the_binary_serves_on_dual_stack_by_default",
            "no IPv6 on this host, so only the fallback to 0.0.0.0 is checked",
        );
        assert_eq!(exp.addr, SocketAddr::from(([0, 0, 0, 0], port)));
        assert!(exp.log().contains("no IPv6 on this host"), "{}", exp.log());
        assert_eq!(v4().status, 200);
        return;
    }
    assert_eq!(
        exp.addr,
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)),
        "{}",
        exp.log()
    );
    let a = get(
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
        "/metrics",
    );
    assert_eq!(a.status, 200);
    // IPv4 too, unless the host makes IPv6 sockets v6-only by default
    // (net.ipv6.bindv6only), which the exporter leaves as it is.
    let v6only_default =
        std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "1");
    if v6only_default {
        assert!(TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(1)
        )
        .is_err());
    } else {
        let a = v4();
        assert_eq!(a.status, 200);
        assert!(a.body.contains("linxdot_exporter_build_info"));
    }
}

#[test]
fn bind_v6only_one_refuses_ipv4() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        linxdot_sim::skip::skip(
            "bind_v6only_one_refuses_ipv4",
            "no IPv6 loopback (::1) on this host",
        );
        return;
    }
    let exp = Exporter::start_exact(
        &[
            "--bind-address",
            "::",
            "--bind-v6only",
            "1",
            "--port",
            "0",
            "--no-temper",
        ],
        &[],
    );
    let port = exp.addr.port();
    assert_eq!(
        get(
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
            "/metrics"
        )
        .status,
        200
    );
    assert!(TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1)
    )
    .is_err());
}

/// A request head of exactly `size` bytes, blank line included.
fn head_of(size: usize) -> Vec<u8> {
    let mut head = b"GET /metrics HTTP/1.0\r\nX: ".to_vec();
    head.resize(size - 4, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    head
}

#[test]
fn heads_up_to_8_kib_are_served_and_one_byte_more_is_refused() {
    let s = server(ServerConfig::default());
    for size in [1025, 4096, 8191, 8192] {
        let answer = http_request_bytes(s.local_addr(), &head_of(size));
        assert_eq!(answer.status, 200, "{size} bytes: {}", answer.head);
    }
    let answer = http_request_bytes(s.local_addr(), &head_of(8193));
    assert_eq!(answer.status, 431, "8193 bytes: {}", answer.head);
}

#[test]
fn a_head_over_8_kib_in_two_writes_is_refused_too() {
    let s = server(ServerConfig::default());
    let head = head_of(9000);
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    c.write_all(&head[..5000]).unwrap();
    // Let the server take in the first part, so that the rest is a second read.
    std::thread::sleep(Duration::from_millis(100));
    c.write_all(&head[5000..]).unwrap();
    assert_eq!(parse_answer(&read_all(&mut c)).status, 431);
}

#[test]
fn pipelined_heads_over_8_kib_in_one_write_are_all_answered() {
    let s = server(ServerConfig::default());
    // Three heads of 3,000 bytes: the first read fills the 8 KiB buffer
    // whole, and what is left in the socket must still be read.
    let head = |close: &str| {
        let start = format!("GET /metrics HTTP/1.1\r\nHost: t\r\n{close}X: ");
        format!("{start}{}\r\n\r\n", "a".repeat(3000 - start.len() - 4))
    };
    let raw = [head(""), head(""), head("Connection: close\r\n")].concat();
    assert_eq!(raw.len(), 9000);
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    c.write_all(raw.as_bytes()).unwrap();
    let statuses: Vec<u16> = split_answers(&read_all(&mut c))
        .iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(statuses, [200, 200, 200]);
}

#[test]
fn a_full_table_makes_room_by_closing_the_connection_idle_longest() {
    let config = ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    };
    assert_eq!(scrape_behind_idle(config, 2).0.status, 200);
}

#[test]
fn a_head_in_one_byte_writes_is_served() {
    let s = server(ServerConfig::default());
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    c.set_nodelay(true).unwrap();
    for byte in b"GET /metrics HTTP/1.0\r\nA: b\n\r\n" {
        c.write_all(&[*byte]).unwrap();
    }
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    assert_eq!(parse_answer(&out).status, 200);
}

#[test]
fn a_reset_in_the_middle_of_a_head_leaves_the_server_serving() {
    let s = server(ServerConfig::default());
    for _ in 0..20 {
        let mut c = TcpStream::connect(s.local_addr()).unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHo").unwrap();
        // SO_LINGER 0: close sends a reset (RST), not a FIN.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a linger struct of the size given.
        let rc = unsafe {
            use std::os::fd::AsRawFd;
            libc::setsockopt(
                c.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        drop(c);
    }
    let answer = get(s.local_addr(), "/metrics");
    assert_eq!(answer.status, 200, "{}", answer.head);
}
