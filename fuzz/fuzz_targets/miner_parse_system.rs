//! The dashboard body path: what `parse_system` does with whatever the
//! dashboard sends, within the client's body cap, on a thread with the
//! poller thread's stack size (so that a depth guard that is too generous
//! for the real stack overflows here too).
#![no_main]

use libfuzzer_sys::fuzz_target;
use linxdot_exporter::miner::client::MAX_BODY_BYTES;
use linxdot_exporter::miner::system::{
    json_depth, parse_system, INFO_FIELDS, MAX_DEPTH, NUMBER_FIELDS,
};
use tinyjson::JsonValue;

/// The stack of the `miner-poller` thread (src/miner/mod.rs).
const POLLER_STACK: usize = 256 * 1024;

fn value_depth(v: &JsonValue) -> usize {
    match v {
        JsonValue::Array(items) => 1 + items.iter().map(value_depth).max().unwrap_or(0),
        JsonValue::Object(map) => 1 + map.values().map(value_depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn check(body: &[u8]) {
    let depth = json_depth(body);
    let result = parse_system(body);
    if depth > MAX_DEPTH {
        assert!(result.is_err(), "nested {depth} deep but accepted");
        return;
    }
    // Shallow enough to parse here as well: the guard's count must never be
    // below the real nesting, or a deeper body could slip past it.
    if let Ok(text) = std::str::from_utf8(body) {
        if let Ok(value) = text.parse::<JsonValue>() {
            assert!(
                value_depth(&value) <= depth,
                "json_depth {depth} < real depth {}",
                value_depth(&value)
            );
        }
    }
    if let Ok(info) = result {
        // Every expected key gives a value or exactly one problem line.
        let present = info.labels().iter().filter(|v| v.is_some()).count()
            + info.numbers().iter().filter(|v| v.is_some()).count();
        assert_eq!(
            present + info.problems.len(),
            INFO_FIELDS.len() + NUMBER_FIELDS.len(),
            "{info:?}"
        );
        for n in info.numbers().iter().flatten() {
            assert!(n.is_finite(), "non-finite number kept: {n}");
        }
        for p in &info.problems {
            assert!(!p.contains('\n'), "a problem spans lines: {p:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The client never passes on more than this.
    if data.len() > MAX_BODY_BYTES {
        return;
    }
    let body = data.to_vec();
    std::thread::Builder::new()
        .stack_size(POLLER_STACK)
        .spawn(move || check(&body))
        .expect("spawn")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
});
