//! The GGUF header reader on arbitrary bytes: an error or a header, never a panic, a hang
//! or an allocation beyond the input's size.
#![no_main]

use agentry_fuzz::llama::gguf::GgufInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = GgufInfo::from_bytes(data) {
        let _ = info.quantization();
        let _ = info.bytes_per_parameter();
        let _ = info.head_dims();
    }
});
