//! The Native encoder: arbitrary Arrow arrays of each type the decoder makes (nulls,
//! slices at any offset) into each ClickHouse column type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sink::clickhouse::{NativeEncoder, TableColumn};

fuzz_target!(|input: (lakeport_fuzz::Values, u8, u8, u8)| {
    let (values, ch, start, len) = input;
    let batch = lakeport_fuzz::one_column(&values, Some((start as usize, len as usize)));
    let type_name = lakeport_fuzz::CLICKHOUSE_TYPES[ch as usize % lakeport_fuzz::CLICKHOUSE_TYPES.len()];
    let column = TableColumn { name: "v".into(), type_name: type_name.into(), default_kind: String::new() };
    if let Ok(encoder) = NativeEncoder::new("t", &batch.schema(), &[column]) {
        if let Ok(block) = encoder.encode(&batch) {
            // The block starts with its column count and (a one-byte varint below 128) rows.
            assert_eq!(block[0], 1);
            if batch.num_rows() < 128 {
                assert_eq!(usize::from(block[1]), batch.num_rows());
            }
        }
    }
});
