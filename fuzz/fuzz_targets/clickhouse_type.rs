//! The ClickHouse type parser: any type text as a table column's type, planned against
//! each Arrow type the decoder makes, then a batch encoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sink::clickhouse::{NativeEncoder, TableColumn};

fuzz_target!(|input: (u8, &str)| {
    let (pick, type_name) = input;
    let batch = lakeport_fuzz::sample_batch(pick);
    let column = TableColumn { name: "v".into(), type_name: type_name.to_string(), default_kind: String::new() };
    if let Ok(encoder) = NativeEncoder::new("t", &batch.schema(), &[column]) {
        let _ = encoder.encode(&batch);
    }
});
