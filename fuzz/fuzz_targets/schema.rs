//! The schema parser: any text, and for a schema it accepts, a decoder, the DDL of both
//! dialects and a decoded record.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use sink::clickhouse::{create_table, Dialect};
use transform::Schema;

fuzz_target!(|text: &str| {
    let Ok(schema) = Schema::from_toml_str(text, "fuzz.toml") else { return };
    for dialect in [Dialect::Modern, Dialect::Legacy] {
        let ddl = create_table(&schema, "db", "t", dialect);
        assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS `db`.`t`"), "{ddl}");
    }
    lakeport_fuzz::decode_and_encode(&Arc::new(schema), br#"{"a":1,"Datetime":"2026-11-23T07:00:00Z"}"#);
});
