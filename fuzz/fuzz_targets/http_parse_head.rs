//! The HTTP request-head parser on arbitrary bytes.
//!
//! Beyond "does not panic": an accepted head must satisfy the invariants the
//! rest of the server relies on, and writing the parsed request back out in
//! origin form must parse to the same request (the parser keeps nothing it
//! could not have read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use http::request::{parse_head, Request, MAX_HEADERS, MAX_HEAD_BYTES};

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check(request: &Request) {
    assert!(is_token(&request.method), "method {:?}", request.method);
    assert!(
        request.path.starts_with('/') || request.path == "*",
        "path {:?}",
        request.path
    );
    let no_ctl = |s: &str| !s.bytes().any(|b| b <= b' ' || b == 0x7f);
    assert!(no_ctl(&request.path), "path {:?}", request.path);
    if let Some(q) = &request.query {
        assert!(no_ctl(q), "query {q:?}");
    }
    assert!(matches!(request.version, (1, 0) | (1, 1)));
    assert!(request.headers().count() <= MAX_HEADERS);
    for (name, value) in request.headers() {
        assert!(is_token(name), "header name {name:?}");
        assert_eq!(name, name.to_ascii_lowercase());
        assert!(
            !value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f),
            "header value {value:?}"
        );
        assert_eq!(value, value.trim_matches([' ', '\t']), "untrimmed value");
    }
    if request.version == (1, 1) {
        assert!(request.header("host").is_some());
    }
    if let Some(length) = request.header("content-length") {
        assert!(length.trim().parse::<u64>().is_ok());
    }
    // These must not panic whatever the headers say.
    let _ = request.wants_keep_alive();
    let _ = request.has_body();
}

fn write_back(request: &Request) -> Vec<u8> {
    let mut out = format!("{} {}", request.method, request.path);
    if let Some(q) = &request.query {
        out.push('?');
        out.push_str(q);
    }
    out.push_str(&format!(
        " HTTP/{}.{}\r\n",
        request.version.0, request.version.1
    ));
    for (name, value) in request.headers() {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fuzz_target!(|data: &[u8]| {
    // the connection never hands the parser more than this.
    // The parser lowercases header names in place: it gets a copy.
    let mut data = data[..data.len().min(MAX_HEAD_BYTES)].to_vec();
    let received = std::time::Instant::now();
    if let Ok(request) = parse_head(&mut data, received) {
        check(&request);
        let mut written = write_back(&request);
        let again = parse_head(&mut written, received);
        assert_eq!(again.as_ref(), Ok(&request), "written back: {:?}", request);
    }
});
