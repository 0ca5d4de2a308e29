//! TEMPer replies for every model: a version reply and a reading reply as a
//! device could send them, through the same lookup and decoders the pollers
//! use. Nothing may panic; every reading is finite, humidity stays in
//! 0..=100, and the version label is printable ASCII.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linxdot_exporter::temper::Quantity;
use linxdot_exporter::temper::decode::{decode, version_string};
use linxdot_exporter::temper::models::lookup;
use linxdot_sim::hid::{
    HIDTEMPER_660C, MICRODIA_7401, MICRODIA_7402, PCSENSOR_3553, PCSENSOR_413D, QINHENG_E025,
};

/// Every VID:PID of the model table, and one it does not know (the first
/// input byte picks one, so the order is fixed: the seeds rely on it).
const IDS: [(u16, u16); 6] = [
    MICRODIA_7401,
    MICRODIA_7402,
    PCSENSOR_413D,
    QINHENG_E025,
    PCSENSOR_3553,
    HIDTEMPER_660C,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (vid, pid) = IDS[selector as usize % IDS.len()];
    // The first 16 bytes are the version reply (two reports), the rest the reading.
    let (version_reply, reading) = rest.split_at(rest.len().min(16));
    let version = version_string(version_reply);
    assert!(
        version.bytes().all(|b| (0x20..=0x7e).contains(&b)),
        "{version:?}"
    );
    assert!(!version.ends_with(' '));
    let Some(model) = lookup(vid, pid, &version) else {
        return;
    };
    for value in decode(model, reading) {
        assert!(value.value.is_finite(), "{} {value:?}", model.product);
        if value.quantity == Quantity::Humidity {
            assert!(
                (0.0..=100.0).contains(&value.value),
                "{} {value:?}",
                model.product
            );
        }
    }
});
