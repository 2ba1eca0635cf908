//! `lakeport gen` → `lakeport convert` → an independent reader (pyarrow, duckdb) finds every
//! accepted record's values, and read = written + rejected.

use std::path::Path;
use std::process::Command;

/// Runs `lakeport args`, which must exit with `code`.
fn lakeport(args: &[&str], code: i32) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_lakeport"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("run lakeport");
    assert_eq!(out.status.code(), Some(code), "lakeport {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The Python with pyarrow and duckdb that scripts/setup.sh installs.
fn python() -> String {
    std::env::var("LAKEPORT_TEST_PYTHON").unwrap_or_else(|_| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.lakeport/venv/bin/python");
        assert!(Path::new(venv).exists(), "no Python with pyarrow/duckdb: run scripts/setup.sh (or scripts/test.sh), or set LAKEPORT_TEST_PYTHON");
        venv.to_string()
    })
}

fn count(text: &str, word: &str) -> u64 {
    let i = text.find(word).unwrap_or_else(|| panic!("{word:?} not in {text:?}")) + word.len();
    text[i..].trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

#[test]
fn convert_output_is_read_back_by_pyarrow_and_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    for dataset in ["gateway_dns", "gateway_http"] {
        let input = dir.path().join(format!("{dataset}.ndjson"));
        let out = dir.path().join(format!("{dataset}.parquet"));
        let rejects = dir.path().join(format!("{dataset}.rejects.ndjson"));
        let (i, o, r) = (input.to_str().unwrap(), out.to_str().unwrap(), rejects.to_str().unwrap());
        lakeport(&["gen", "--dataset", dataset, "--count", "3000", "--seed", "11", "--bad-ratio", "0.1", "--out", i], 0);
        let res = lakeport(&["convert", "--schema", dataset, i, "--out", o, "--rejects", r, "--max-rejects", "1000"], 0);
        let summary = String::from_utf8_lossy(&res.stdout);
        let (read, wrote, rejected) = (count(&summary, "read"), count(&summary, "wrote"), count(&summary, "rejected"));
        assert_eq!(read, 3000, "{summary}");
        assert_eq!(wrote + rejected, read, "nothing lost: {summary}");
        assert!(rejected > 200 && rejected < 400, "about 10% bad: {summary}");
        let lines = std::fs::read_to_string(&rejects).unwrap().lines().count() as u64;
        assert_eq!(lines, rejected);

        let schema = format!("{}/../../schemas/{dataset}.toml", env!("CARGO_MANIFEST_DIR"));
        let verify = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/verify_parquet.py");
        let check = Command::new(python()).args([verify, &schema, i, r, o]).output().expect("run python");
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(check.status.success() && report.starts_with("ok: "), "independent reader disagrees for {dataset}:\n{report}{}", String::from_utf8_lossy(&check.stderr));
    }
}

#[test]
fn max_rejects_fails_the_run_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.ndjson");
    std::fs::write(&input, "{\"Datetime\":1}\nnot json\n").unwrap();
    let out = dir.path().join("o.parquet");
    let res = lakeport(&["convert", "--schema", "gateway_dns", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--max-rejects", "0"], 2);
    assert!(String::from_utf8_lossy(&res.stderr).contains("--max-rejects"));
}

#[test]
fn bad_schema_and_missing_input_give_clear_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_lakeport")).args(["convert", "--schema", "nope", "/nonexistent.ndjson", "--out", "/tmp/x.parquet"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schemas/nope.toml"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
