//! The benchmark's yardstick: a thread-per-connection HTTP server that
//! answers every request with the same pre-rendered body, with the same
//! headers as the exporter, and does nothing else (no limits, no
//! deadlines, no parsing beyond finding the end of a head). It is what
//! "as fast as the machine serves these bytes" looks like; never run it
//! where untrusted clients can reach it.
//!
//!     cargo run --release --example reference-server -- --body FILE [--listen 127.0.0.1:PORT]
//!
//! Prints `listening on ADDRESS` once it accepts connections.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

const USAGE: &str = "usage: reference-server --body FILE [--listen ADDRESS:PORT]\n";

fn main() {
    let mut args = pico_args::Arguments::from_env();
    if args.contains(["-h", "--help"]) {
        print!("{USAGE}");
        return;
    }
    let body: std::path::PathBuf = match args.value_from_str("--body") {
        Ok(path) => path,
        Err(e) => {
            eprint!("reference-server: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let listen: String = args
        .opt_value_from_str("--listen")
        .unwrap_or(None)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let body = std::fs::read(&body).unwrap_or_else(|e| {
        eprintln!("reference-server: cannot read {}: {e}", body.display());
        std::process::exit(2);
    });
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nServer: linxdot-exporter/{}\r\n\
         Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: keep-alive\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let answer: Arc<[u8]> = answer.into();
    let listener = TcpListener::bind(&listen).unwrap_or_else(|e| {
        eprintln!("reference-server: cannot listen on {listen}: {e}");
        std::process::exit(1);
    });
    eprintln!("listening on {}", listener.local_addr().expect("address"));
    for stream in listener.incoming().flatten() {
        let answer = Arc::clone(&answer);
        let _ = thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || serve(stream, &answer));
    }
}

/// Answers every head on the connection until the client closes.
fn serve(mut stream: TcpStream, answer: &[u8]) {
    let _ = stream.set_nodelay(true);
    let mut buffer = [0u8; 8192];
    let mut held = 0;
    loop {
        let n = match stream.read(&mut buffer[held..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        held += n;
        // Answer every whole head received; keep a partial one.
        let mut start = 0;
        while let Some(end) = head_end(&buffer[start..held]) {
            if stream.write_all(answer).is_err() {
                return;
            }
            start += end;
        }
        buffer.copy_within(start..held, 0);
        held -= start;
        if held == buffer.len() {
            return;
        }
    }
}

fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}
