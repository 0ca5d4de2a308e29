//! Where a request is answered: on the readiness loop when its handler
//! does not wait, on one of `threads` handler threads when it may
//! ([`Handler::waits`]), over real TCP on loopback. A handler here waits
//! behind a gate the test opens, so "still waiting" is a fact, not a race.

use http::{Handler, Reply, Request, Response, ServerConfig, ServerHandle};
use linxdot_sim::http::{connect, get, read_all, split_answers};
use linxdot_sim::wait;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// `/wait` waits until the gate opens; every other path answers at once.
/// Each body is the path and the name of the thread that answered.
struct Gated {
    open: Mutex<bool>,
    opened: Condvar,
    inside: AtomicUsize,
    most_inside: AtomicUsize,
    entered: Mutex<Sender<()>>,
}

impl Gated {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// The server's handle on the gate the test also holds.
struct Shared(Arc<Gated>);

impl Handler for Shared {
    fn handle(&self, request: &Request) -> Response {
        let gated = &self.0;
        if request.path == "/wait" {
            let now = gated.inside.fetch_add(1, Ordering::SeqCst) + 1;
            gated.most_inside.fetch_max(now, Ordering::SeqCst);
            let _ = gated.entered.lock().unwrap().send(());
            let mut open = gated.open.lock().unwrap();
            while !*open {
                open = gated.opened.wait(open).unwrap();
            }
            drop(open);
            gated.inside.fetch_sub(1, Ordering::SeqCst);
        }
        if request.path == "/big" {
            return Response::new(200, "application/octet-stream", big_body());
        }
        let thread = std::thread::current();
        let body = format!("{} {}", request.path, thread.name().unwrap_or("?"));
        Response::new(200, "text/plain", body.into_bytes())
    }

    /// `/reply-N`: N letters, written into the server's reused buffer.
    fn respond(&self, request: &Request, reply: &mut Reply<'_>) {
        match request.path.strip_prefix("/reply-") {
            Some(n) => reply
                .body(200, "text/plain")
                .extend(letters(n.parse().unwrap())),
            None => reply.send(self.handle(request)),
        }
    }

    fn waits(&self, request: &Request) -> bool {
        request.path == "/wait"
    }
}

fn letters(n: usize) -> impl Iterator<Item = char> {
    (0..n).map(|i| char::from(b'a' + (i % 26) as u8))
}

/// `/big`: more than the socket buffers of both ends hold, so that writing
/// it to a client that does not read yet would block.
fn big_body() -> Vec<u8> {
    (0..32 << 20).map(|i: u32| (i % 251) as u8).collect()
}

/// A server over a [`Gated`] handler, the gate open or closed.
fn server(threads: usize, open: bool) -> (ServerHandle, Arc<Gated>, Receiver<()>) {
    server_with(
        ServerConfig {
            threads,
            ..ServerConfig::default()
        },
        open,
    )
}

fn server_with(config: ServerConfig, open: bool) -> (ServerHandle, Arc<Gated>, Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let gated = Arc::new(Gated {
        open: Mutex::new(open),
        opened: Condvar::new(),
        inside: AtomicUsize::new(0),
        most_inside: AtomicUsize::new(0),
        entered: Mutex::new(tx),
    });
    let listener = http::bind(Some("127.0.0.1".parse().unwrap()), 0, None).unwrap();
    let s = http::serve(listener, Shared(Arc::clone(&gated)), config).unwrap();
    (s, gated, rx)
}

const ENTER_TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn answers_that_do_not_wait_run_on_the_loop_and_the_rest_on_handler_threads() {
    let (s, _, _rx) = server(2, true);
    assert_eq!(get(s.local_addr(), "/metrics").body, "/metrics http-loop");
    let waited = get(s.local_addr(), "/wait").body;
    assert!(waited.starts_with("/wait http-handler-"), "{waited}");
    s.stop();
}

#[test]
fn a_waiting_answer_does_not_hold_up_a_scrape() {
    // One handler thread, and it is taken.
    let (s, gated, entered) = server(1, false);
    let addr = s.local_addr();
    let waiting = std::thread::spawn(move || get(addr, "/wait"));
    entered
        .recv_timeout(ENTER_TIMEOUT)
        .expect("/wait reaches its handler");
    for _ in 0..3 {
        let a = get(addr, "/metrics");
        assert_eq!((a.status, a.body.as_str()), (200, "/metrics http-loop"));
    }
    // Answered while the gate was shut: nothing waited behind it.
    assert_eq!(gated.inside.load(Ordering::SeqCst), 1);
    gated.open();
    let a = waiting.join().unwrap();
    assert_eq!((a.status, a.body.as_str()), (200, "/wait http-handler-0"));
    s.stop();
}

#[test]
fn waiting_answers_run_at_most_threads_at_once_and_the_rest_queue() {
    let (s, gated, entered) = server(2, false);
    let addr = s.local_addr();
    let clients: Vec<_> = (0..5)
        .map(|_| std::thread::spawn(move || get(addr, "/wait")))
        .collect();
    for _ in 0..2 {
        entered
            .recv_timeout(ENTER_TIMEOUT)
            .expect("two reach a handler");
    }
    // The other three are queued, not started, while the two wait.
    assert!(entered.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(gated.inside.load(Ordering::SeqCst), 2);
    // A scrape is still answered at once.
    assert_eq!(get(addr, "/metrics").body, "/metrics http-loop");
    gated.open();
    for client in clients {
        let a = client.join().unwrap();
        assert_eq!(a.status, 200, "{a:?}");
        assert!(a.body.starts_with("/wait http-handler-"), "{}", a.body);
    }
    assert_eq!(gated.most_inside.load(Ordering::SeqCst), 2);
    s.stop();
}

#[test]
fn a_waiting_request_beyond_max_waiting_is_answered_503_at_once() {
    let config = ServerConfig {
        threads: 1,
        max_waiting: 2,
        ..ServerConfig::default()
    };
    let (s, gated, entered) = server_with(config, false);
    let addr = s.local_addr();
    let (tx, answers) = mpsc::channel();
    let first = {
        let tx = tx.clone();
        std::thread::spawn(move || tx.send(get(addr, "/wait")).unwrap())
    };
    entered
        .recv_timeout(ENTER_TIMEOUT)
        .expect("the first reaches its handler");
    // One more may queue; the one after that is refused, whichever of the
    // two arrives second.
    let others: Vec<_> = (0..2)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send(get(addr, "/wait")).unwrap())
        })
        .collect();
    let refused = answers
        .recv_timeout(ENTER_TIMEOUT)
        .expect("an answer while the gate is shut");
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.header("retry-after").as_deref(), Some("1"));
    // A scrape is not a waiting request: still answered.
    assert_eq!(get(addr, "/metrics").status, 200);
    gated.open();
    for client in others.into_iter().chain([first]) {
        client.join().unwrap();
    }
    let rest: Vec<u16> = answers.try_iter().map(|a| a.status).collect();
    assert_eq!(rest, [200, 200]);
    assert_eq!(gated.most_inside.load(Ordering::SeqCst), 1);
    // Once both have settled (just after their answers went out), the
    // count is down again: a waiting request is handed over again.
    wait::poll(
        "a waiting request handed over again",
        ENTER_TIMEOUT,
        Duration::from_millis(10),
        || match get(addr, "/wait").status {
            200 => Ok(()),
            status => Err(format!("status {status}")),
        },
    );
    s.stop();
}

#[test]
fn a_large_answer_to_a_slow_reader_arrives_whole() {
    let (s, _, _rx) = server(1, true);
    let mut stream = connect(s.local_addr());
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Not reading for a while: the socket fills, the server's write would
    // block, and it must wait for room, not give up.
    std::thread::sleep(Duration::from_millis(300));
    let answer = read_all(&mut stream);
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(answer.starts_with(b"HTTP/1.1 200 "));
    assert_eq!(answer.len() - end, 32 << 20, "bytes of body");
    assert!(answer[end..] == big_body()[..], "the body differs");
    s.stop();
}

/// Bodies written into the loop's reused buffer are sent from it after
/// their heads; what a full socket does not take moves into the
/// connection's own buffer before the next answer is written: pipelined
/// answers, small and larger than the sockets hold, arrive whole and in
/// order to a client that reads late.
#[test]
fn reply_bodies_from_the_reused_buffer_arrive_whole_and_in_order() {
    let (s, _, _rx) = server(1, true);
    let mut stream = connect(s.local_addr());
    let sizes = [3, 5 << 20, 7, 0, 300_000, 11];
    let mut raw = String::new();
    for n in sizes {
        raw += &format!("GET /reply-{n} HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    raw += "GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    stream.write_all(raw.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let answers = split_answers(&read_all(&mut stream));
    assert_eq!(answers.len(), sizes.len() + 1);
    for (answer, n) in answers.iter().zip(sizes) {
        assert_eq!(answer.header("content-length"), Some(n.to_string()));
        assert!(answer.body.chars().eq(letters(n)), "/reply-{n}");
    }
    assert_eq!(answers[sizes.len()].body, "/a http-loop");
    s.stop();
}

#[test]
fn pipelined_answers_keep_their_order_across_the_hand_off() {
    let (s, _, _rx) = server(1, true);
    let mut stream = connect(s.local_addr());
    let paths = ["/a", "/wait", "/b", "/wait", "/c"];
    let mut raw = String::new();
    for (i, path) in paths.iter().enumerate() {
        let close = if i + 1 == paths.len() {
            "Connection: close\r\n"
        } else {
            ""
        };
        raw += &format!("GET {path} HTTP/1.1\r\nHost: t\r\n{close}\r\n");
    }
    stream.write_all(raw.as_bytes()).unwrap();
    let answers = split_answers(&read_all(&mut stream));
    let got: Vec<&str> = answers
        .iter()
        .map(|a| a.body.split(' ').next().unwrap())
        .collect();
    assert_eq!(got, paths);
    // The first answer is the loop's; the first `/wait` is handed over.
    assert_eq!(answers[0].body, "/a http-loop");
    assert_eq!(answers[1].body, "/wait http-handler-0");
    s.stop();
}

#[test]
fn a_client_that_leaves_while_its_answer_waits_costs_nothing_after() {
    let (s, gated, entered) = server(1, false);
    let addr = s.local_addr();
    let mut stream = connect(addr);
    stream
        .write_all(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    entered
        .recv_timeout(ENTER_TIMEOUT)
        .expect("/wait reaches its handler");
    drop(stream);
    gated.open();
    // The handler thread wrote to a closed connection and is free again.
    let a = get(addr, "/wait");
    assert_eq!((a.status, a.body.as_str()), (200, "/wait http-handler-0"));
    s.stop();
}

/// Answers with the cores the answering thread may run on
/// (`Cpus_allowed_list` of `/proc/thread-self/status`, e.g. `0-1`).
struct Cores;

impl Handler for Cores {
    fn handle(&self, _: &Request) -> Response {
        let body = cores_of_this_thread();
        Response::new(200, "text/plain", body.into_bytes())
    }
}

fn cores_of_this_thread() -> String {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"));
    line.expect("Cpus_allowed_list in /proc/thread-self/status")
        .trim()
        .to_string()
}

/// `0-2,5` → [0, 1, 2, 5].
fn core_list(text: &str) -> Vec<usize> {
    let mut cores = Vec::new();
    for part in text.split(',') {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        cores.extend(first.parse::<usize>().unwrap()..=last.parse().unwrap());
    }
    cores
}

/// The cores each of `loops` loops answers on: connection `i` lands on
/// loop `i` (new connections go to the loops in turn, from the first).
fn cores_of_each_loop(config: ServerConfig) -> Vec<String> {
    let loops = config.loops;
    let listener = http::bind(Some("127.0.0.1".parse().unwrap()), 0, None).unwrap();
    let s = http::serve(listener, Cores, config).unwrap();
    let answers = (0..loops).map(|_| get(s.local_addr(), "/").body).collect();
    s.stop();
    answers
}

#[test]
fn with_one_loop_per_core_each_loop_keeps_to_a_core_of_its_own() {
    let allowed = cores_of_this_thread();
    let cores = core_list(&allowed);
    if cores.len() < 2 {
        let why = format!("this test may run on one core only ({allowed})");
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{why}");
        linxdot_sim::skip::skip("each loop keeping to a core of its own", &why);
    } else {
        let config = ServerConfig {
            loops: cores.len(),
            ..ServerConfig::default()
        };
        let each: Vec<String> = cores.iter().map(usize::to_string).collect();
        assert_eq!(cores_of_each_loop(config.clone()), each);
        // Pinning off, or a loop more than there are cores: the loops run
        // wherever the process may.
        let off = ServerConfig {
            pin_loops: false,
            ..config.clone()
        };
        assert_eq!(cores_of_each_loop(off), vec![allowed.clone(); cores.len()]);
        let more = ServerConfig {
            loops: cores.len() + 1,
            ..config
        };
        assert_eq!(
            cores_of_each_loop(more),
            vec![allowed.clone(); cores.len() + 1]
        );
    }
    // A process kept to one core gets one loop by default, which the
    // scheduler may place (on that core).
    let one = std::thread::spawn(move || {
        let core = cores[0];
        // SAFETY: a zeroed cpu_set_t is the empty set; the kernel only
        // reads `set`; 0 is this thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(core, &mut set);
            assert_eq!(
                libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set),
                0
            );
        }
        let config = ServerConfig::default();
        assert_eq!(config.loops, 1);
        (core, cores_of_each_loop(config))
    });
    let (core, answers) = one.join().unwrap();
    assert_eq!(answers, vec![core.to_string()]);
}
