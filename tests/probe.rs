//! `/probe?target=`: one exporter polling many simulated dashboards over
//! real TCP on loopback.

use linxdot_exporter::http::{self, ServerConfig};
use linxdot_exporter::probe::allow::AllowList;
use linxdot_exporter::probe::credentials::Credentials;
use linxdot_exporter::probe::{Config, Prober};
use linxdot_exporter::secret::Secret;
use linxdot_sim::dashboard::{Dashboard, Fault};
use linxdot_sim::http::{http_request, http_request_bytes, HttpAnswer};
use linxdot_sim::text::sample;
use linxdot_sim::wait;
use std::net::{SocketAddr, TcpListener};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

struct ProbeServer {
    addr: SocketAddr,
    prober: Arc<Prober>,
    _handle: http::ServerHandle,
}

fn admin() -> Credentials {
    Credentials {
        username: "admin".into(),
        password: Secret::new("admin".into()),
        plain: false,
    }
}

/// Every path answered by the prober, on a handler thread, as the
/// exporter's `/probe` route is (`exporter::ROUTES` says it waits).
struct ProbeRoute(Arc<Prober>);

impl http::Handler for ProbeRoute {
    fn handle(&self, request: &http::Request) -> http::Response {
        self.0.handle(request)
    }

    fn waits(&self, _: &http::Request) -> bool {
        true
    }
}

fn server_with(config: Config) -> ProbeServer {
    server_with_threads(config, 40)
}

fn server_with_threads(config: Config, threads: usize) -> ProbeServer {
    let prober = Arc::new(Prober::new(config));
    let listener = http::bind(Some([127, 0, 0, 1].into()), 0, None).expect("bind");
    let handle = http::serve(
        listener,
        ProbeRoute(Arc::clone(&prober)),
        ServerConfig {
            threads,
            ..ServerConfig::default()
        },
    )
    .expect("serve");
    ProbeServer {
        addr: handle.local_addr(),
        prober,
        _handle: handle,
    }
}

fn server(allow: &[&str]) -> ProbeServer {
    let mut config = Config::new(AllowList::parse(allow).expect("patterns"));
    config.default_credentials = Some(admin());
    config.refresh_interval = Duration::from_secs(1);
    server_with(config)
}

impl ProbeServer {
    fn probe(&self, target: &str) -> HttpAnswer {
        self.probe_with(target, "")
    }

    fn probe_with(&self, target: &str, extra_headers: &str) -> HttpAnswer {
        http_request(
            self.addr,
            &format!(
                "GET /probe?target={target} HTTP/1.1\r\nHost: x\r\n{extra_headers}Connection: close\r\n\r\n"
            ),
        )
    }
}

fn system_json(animal: &str, cpu_temp: f64) -> String {
    format!(
        r#"{{"animal_name":"{animal}","firmware":"f","model_name":"LD-1001","region":"EU868","sn":"SN-{animal}","cpu_temp":{cpu_temp},"cpu_usage":1.5,"memory_usage":"20","storage_usage":30}}"#
    )
}

#[test]
fn many_dashboards_at_once_each_answer_is_its_own() {
    let sims: Vec<Dashboard> = (0..24)
        .map(|i| {
            let d = Dashboard::start();
            d.set_system_json(&system_json(&format!("animal-{i}"), 30.0 + i as f64));
            d
        })
        .collect();
    let server = Arc::new(server(&["127.0.0.1"]));
    for round in 0..2 {
        let (tx, rx) = mpsc::channel();
        for (i, sim) in sims.iter().enumerate() {
            let (server, tx, host) = (Arc::clone(&server), tx.clone(), sim.host());
            thread::spawn(move || {
                let _ = tx.send((i, server.probe(&host)));
            });
        }
        drop(tx);
        let answers: Vec<(usize, HttpAnswer)> = rx.iter().collect();
        assert_eq!(answers.len(), sims.len());
        for (i, answer) in answers {
            assert_eq!(
                answer.status, 200,
                "round {round} miner {i}: {}",
                answer.body
            );
            assert!(
                answer.body.contains(&format!("animal_name=\"animal-{i}\"")),
                "miner {i}: {}",
                answer.body
            );
            assert_eq!(
                sample(&answer.body, "miner_cpu_temp"),
                Some(30.0 + i as f64)
            );
            assert_eq!(sample(&answer.body, "probe_success"), Some(1.0));
            assert_eq!(sample(&answer.body, "miner_up"), Some(1.0));
            assert!(sample(&answer.body, "probe_duration_seconds").is_some());
        }
    }
    // One login per target: the second round reused each session.
    for (i, sim) in sims.iter().enumerate() {
        assert_eq!(sim.state().logins, 1, "miner {i}");
        assert_eq!(sim.state().system_requests, 2, "miner {i}");
    }
    assert_eq!(server.prober.session_count(), sims.len());
}

#[test]
fn a_hanging_miner_costs_only_its_own_probe() {
    let hanging = Dashboard::start();
    hanging.set_fault(Fault::Hang);
    let healthy: Vec<Dashboard> = (0..5).map(|_| Dashboard::start()).collect();
    let mut config = Config::new(AllowList::parse(&["127.0.0.1"]).unwrap());
    config.default_credentials = Some(admin());
    config.timeout = Duration::from_secs(30);
    let server = Arc::new(server_with(config));

    let (tx, rx) = mpsc::channel();
    {
        let (server, host) = (Arc::clone(&server), hanging.host());
        thread::spawn(move || {
            let _ = tx.send(server.probe_with(&host, "X-Prometheus-Scrape-Timeout-Seconds: 6\r\n"));
        });
    }
    // The hanging probe holds its target's lock; the others go on.
    for _ in 0..3 {
        for sim in &healthy {
            let answer = server.probe(&sim.host());
            assert_eq!(sample(&answer.body, "probe_success"), Some(1.0));
        }
    }
    assert!(
        rx.try_recv().is_err(),
        "the hanging miner's probe answered before the others were done"
    );
    let answer = rx
        .recv()
        .expect("the hanging probe answers at its deadline");
    assert_eq!(answer.status, 200);
    assert_eq!(sample(&answer.body, "probe_success"), Some(0.0));
    assert_eq!(sample(&answer.body, "miner_up"), Some(0.0));
    assert!(
        answer
            .body
            .contains("miner_poll_errors_total{reason=\"timeout\"} 1.0\n"),
        "{}",
        answer.body
    );
    assert!(!answer.body.contains("miner_exporter_info{"));
}

#[test]
fn an_expired_session_is_renewed_for_that_target_only() {
    let a = Dashboard::start();
    let b = Dashboard::start();
    let server = server(&["127.0.0.1"]);
    for sim in [&a, &b] {
        assert_eq!(
            sample(&server.probe(&sim.host()).body, "probe_success"),
            Some(1.0)
        );
    }
    a.expire_sessions();
    for sim in [&a, &b] {
        assert_eq!(
            sample(&server.probe(&sim.host()).body, "probe_success"),
            Some(1.0)
        );
    }
    assert_eq!(a.state().logins, 2);
    assert_eq!(b.state().logins, 1);
}

#[test]
fn an_unlisted_target_is_refused_and_never_contacted() {
    // A listener on another loopback address, never accepted from.
    let bystander = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    bystander.set_nonblocking(true).unwrap();
    let port = bystander.local_addr().unwrap().port();
    let server = server(&["127.0.0.1", "*.miners.lan"]);
    for target in [
        format!("127.0.0.2:{port}"),
        format!("localhost:{port}"),
        format!("%5B%3A%3Affff%3A127.0.0.2%5D:{port}"),
        "evil.example:80".to_string(),
    ] {
        let answer = server.probe(&target);
        assert_eq!(answer.status, 403, "{target}: {}", answer.body);
        assert!(
            answer.body.contains("matches no --probe-allow pattern"),
            "{}",
            answer.body
        );
    }
    assert!(
        bystander.accept().is_err(),
        "a refused target was connected to"
    );
    assert_eq!(server.prober.session_count(), 0);
}

#[test]
fn malformed_targets_get_400_with_a_reason() {
    let server = server(&["0.0.0.0/0", "*.lan", "*"]);
    let table: &[(&str, &str)] = &[
        ("/probe", "no 'target'"),
        ("/probe?target=", "empty"),
        ("/probe?target=10.0.0.1/info/system", "path"),
        ("/probe?target=admin:admin@10.0.0.1", "credentials"),
        ("/probe?target=http://10.0.0.1", "scheme"),
        ("/probe?target=http%3A%2F%2F10.0.0.1", "scheme"),
        ("/probe?target=%FF%FE", "UTF-8"),
        ("/probe?target=%G0", "hex"),
        ("/probe?target=a&target=b", "more than one"),
    ];
    let long = format!("/probe?target={}.lan", "a".repeat(300));
    for (path, want) in table
        .iter()
        .copied()
        .chain([(long.as_str(), "longer than")])
    {
        let answer = http_request(
            server.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        assert!(
            answer.body.starts_with("bad target: ") && answer.body.contains(want),
            "{path}: {}",
            answer.body
        );
    }
    // Raw non-UTF-8 bytes in the request line: refused by the HTTP layer.
    let answer = http_request_bytes(
        server.addr,
        b"GET /probe?target=\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(answer.status, 400);
    assert_eq!(server.prober.session_count(), 0);
}

#[test]
fn probe_is_off_without_patterns() {
    let server = server(&[]);
    let answer = server.probe("127.0.0.1:80");
    assert_eq!(answer.status, 404);
    assert!(answer.body.contains("--probe-allow"), "{}", answer.body);
}

/// A miner that never answers, a healthy one, and a configuration that
/// may probe both, with a 30 s `--timeout`.
fn hanging_and_healthy() -> (Dashboard, Dashboard, Config) {
    let hanging = Dashboard::start();
    hanging.set_fault(Fault::Hang);
    let mut config = Config::new(AllowList::parse(&["127.0.0.1"]).unwrap());
    config.default_credentials = Some(admin());
    config.timeout = Duration::from_secs(30);
    (hanging, Dashboard::start(), config)
}

#[test]
fn a_probe_that_waited_for_a_thread_past_its_deadline_sends_nothing() {
    let (hanging, healthy, config) = hanging_and_healthy();
    // One handler thread, held for 3.5 s by the hanging miner's probe.
    let server = Arc::new(server_with_threads(config, 1));
    {
        let (server, host) = (Arc::clone(&server), hanging.host());
        thread::spawn(move || {
            server.probe_with(&host, "X-Prometheus-Scrape-Timeout-Seconds: 4\r\n")
        });
    }
    wait::poll(
        "the hanging probe reaches its miner",
        Duration::from_secs(10),
        Duration::from_millis(10),
        || match hanging.state().requests {
            0 => Err("not yet".to_string()),
            _ => Ok(()),
        },
    );
    // Queued behind it with a 0.3 s budget: by the time it has the thread,
    // Prometheus has given up on it.
    let answer = server.probe_with(
        &healthy.host(),
        "X-Prometheus-Scrape-Timeout-Seconds: 0.6\r\n",
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(sample(&answer.body, "probe_success"), Some(0.0));
    assert!(
        answer.body.contains("reason=\"timeout\""),
        "{}",
        answer.body
    );
    assert_eq!(healthy.state().requests, 0, "a request reached the miner");
}

#[test]
fn probes_beyond_the_limit_are_answered_503_at_once() {
    let (hanging, healthy, mut config) = hanging_and_healthy();
    config.max_in_flight = 1;
    let server = Arc::new(server_with(config));
    let (tx, rx) = mpsc::channel();
    {
        let (server, host) = (Arc::clone(&server), hanging.host());
        thread::spawn(move || {
            let _ =
                tx.send(server.probe_with(&host, "X-Prometheus-Scrape-Timeout-Seconds: 20\r\n"));
        });
    }
    // Wait until the hanging probe holds the one slot.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.prober.in_flight() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the hanging probe never started"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let answer = server.probe(&healthy.host());
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.body.contains("too many probes in flight"));
    assert_eq!(healthy.state().logins, 0);
    assert!(rx.try_recv().is_err());
}

#[test]
fn the_session_cache_keeps_at_most_its_cap() {
    let mut config = Config::new(AllowList::parse(&["127.0.0.0/8"]).unwrap());
    config.default_credentials = Some(admin());
    config.max_sessions = 4;
    let server = server_with(config);
    let sim = Dashboard::start();
    for i in 0..10 {
        // Closed ports on other loopback addresses: refused at once.
        let answer = server.probe(&format!("127.0.1.{}:9", i + 1));
        assert_eq!(sample(&answer.body, "probe_success"), Some(0.0));
        assert!(server.prober.session_count() <= 4);
    }
    assert_eq!(
        sample(&server.probe(&sim.host()).body, "probe_success"),
        Some(1.0)
    );
    assert_eq!(server.prober.session_count(), 4);
}

#[test]
fn targets_get_their_own_credentials_from_the_file() {
    let dir = std::env::temp_dir().join(format!("linxdot-probe-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = Dashboard::start_on("127.0.0.1:0", "admin", "pass-a").unwrap();
    let b = Dashboard::start_on("127.0.0.1:0", "root", "pass-b").unwrap();
    b.state().plain_credentials = true;
    std::fs::write(dir.join("a.pw"), "pass-a\n").unwrap();
    std::fs::write(dir.join("b.pw"), "pass-b\n").unwrap();
    let creds = dir.join("creds");
    std::fs::write(
        &creds,
        format!("{} admin a.pw\n{} root b.pw plain\n", a.host(), b.host()),
    )
    .unwrap();
    let mut config = Config::new(AllowList::parse(&["127.0.0.1"]).unwrap());
    config
        .read_credentials_file(creds)
        .expect("credentials file");
    let server = server_with(config);
    for sim in [&a, &b] {
        let answer = server.probe(&sim.host());
        assert_eq!(
            sample(&answer.body, "probe_success"),
            Some(1.0),
            "{}",
            answer.body
        );
    }
    // A target the file does not name, without default credentials.
    let c = Dashboard::start();
    let answer = server.probe(&c.host());
    assert_eq!(answer.status, 403);
    assert!(answer.body.contains("no credentials"), "{}", answer.body);
    assert_eq!(c.state().logins, 0);
    let _ = std::fs::remove_dir_all(dir);
}

/// IPv6 literals pass the same gates, then are refused: the dashboard
/// client (minreq 3.0.0) cannot connect to one (`miner::dialable`).
#[test]
fn ipv6_literals_pass_the_checks_but_are_not_dialled() {
    let server = server(&["::1", "127.0.0.1"]);
    let answer = server.probe("[::1]:8080");
    assert_eq!(answer.status, 501, "{}", answer.body);
    assert!(answer.body.contains("host name"), "{}", answer.body);
    // Not allowed: 403 comes first.
    assert_eq!(server.probe("[::2]:8080").status, 403);
    assert_eq!(server.prober.session_count(), 0);
    // A bare IPv6 address is not HOST[:PORT]: the answer says how to write it.
    let bare = server.probe("::1");
    assert_eq!(bare.status, 400, "{}", bare.body);
    assert!(bare.body.contains("'[::1]'"), "{}", bare.body);
}

#[test]
fn only_get_and_head() {
    let sim = Dashboard::start();
    let server = server(&["127.0.0.1"]);
    let head = http_request(
        server.addr,
        &format!(
            "HEAD /probe?target={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            sim.host()
        ),
    );
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let delete = http_request(
        server.addr,
        &format!(
            "DELETE /probe?target={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            sim.host()
        ),
    );
    assert_eq!(delete.status, 405);
    assert_eq!(sim.state().logins, 1);
}
