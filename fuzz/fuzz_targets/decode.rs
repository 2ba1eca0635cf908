//! The message decoder: any bytes (plain, gzip, zstd; one record, NDJSON or pretty JSON)
//! against every schema, then the Native encoder on what was decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, message)) = data.split_first() else { return };
    let schemas = lakeport_fuzz::schemas();
    lakeport_fuzz::decode_and_encode(&schemas[pick as usize % schemas.len()], message);
});
