//! The pipeline-file parser with `${VAR}` expansion: any text is a pipeline or an error.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../pipelines/fuzz.toml"));
    let lookup = |name: &str| match name {
        "SET" => Some("value".to_string()),
        "EMPTY" => Some(String::new()),
        "NESTED" => Some("${SET}".to_string()),
        _ => None,
    };
    let _ = ingest::Pipeline::parse(text, path, &lookup);
});
