//! Any bytes as a pickle stream (the symbolic machine alone, as `model.pkl`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_model::scan::{Options, scan_bytes};

fuzz_target!(|data: &[u8]| {
    // a protocol header routes the bytes straight to the pickle machine
    let mut v = vec![0x80, 4];
    v.extend_from_slice(data);
    let _ = scan_bytes("fuzz.pkl", v, &Options::default());
});
