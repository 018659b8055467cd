//! Any bytes as a model file: format detection, containers, decompression and pickles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_model::limits::Limits;
use palisade_model::scan::{Options, scan_bytes};

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        limits: Limits {
            max_decompressed: 16 << 20,
            ratio_floor: 1 << 20,
            time_per_file: std::time::Duration::from_secs(5),
            ..Limits::default()
        },
        ..Options::default()
    };
    let _ = scan_bytes("fuzz.bin", data.to_vec(), &opts);
});
