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

/// A valid gateway_dns record.
const GOOD: &str = r#"{"Datetime":"2026-11-23T07:00:00Z","QueryName":"example.com"}"#;

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

/// Chunks decoded side by side are written in input order: the same bytes as on one thread.
#[test]
fn every_thread_count_writes_the_same_file_and_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("dns.ndjson");
    lakeport(&["gen", "--dataset", "gateway_dns", "--count", "40000", "--seed", "5", "--bad-ratio", "0.02", "--out", input.to_str().unwrap()], 0);
    assert!(std::fs::metadata(&input).unwrap().len() > 5 * (8 << 20), "input spans several chunks");
    let outputs: Vec<(Vec<u8>, Vec<u8>)> = ["1", "2", "5"]
        .iter()
        .map(|threads| {
            let (out, rejects) = (dir.path().join(format!("{threads}.parquet")), dir.path().join(format!("{threads}.rejects")));
            lakeport(&["convert", "--schema", "gateway_dns", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--rejects", rejects.to_str().unwrap(), "--threads", threads], 0);
            (std::fs::read(out).unwrap(), std::fs::read(rejects).unwrap())
        })
        .collect();
    assert!(outputs[0].1.len() > 1000, "rejects written");
    for (i, other) in outputs.iter().enumerate().skip(1) {
        assert!(other.0 == outputs[0].0, "Parquet of run {i} differs from one thread's");
        assert!(other.1 == outputs[0].1, "rejects of run {i} differ from one thread's");
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

#[test]
fn a_line_far_beyond_the_record_limit_is_rejected_in_bounded_memory() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    // 256 MiB in one line, between two good records, as plain text and as zstd.
    let plain = dir.path().join("in.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&plain).unwrap());
    writeln!(f, "{GOOD}").unwrap();
    let block = vec![b'x'; 1 << 20];
    (0..256).for_each(|_| f.write_all(&block).unwrap());
    write!(f, "\n{GOOD}\n").unwrap();
    f.into_inner().unwrap().sync_all().unwrap();
    let zst = dir.path().join("in.ndjson.zst");
    zstd::stream::copy_encode(std::fs::File::open(&plain).unwrap(), std::fs::File::create(&zst).unwrap(), 1).unwrap();
    for input in [&plain, &zst] {
        let (out, rejects) = (dir.path().join("o.parquet"), dir.path().join("rejects.ndjson"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_lakeport"))
            .args(["convert", "--schema", "gateway_dns", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--rejects", rejects.to_str().unwrap()])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut summary = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut summary).unwrap();
        let (code, peak_kib) = wait_with_peak_rss(child.id());
        assert_eq!(code, 0, "{summary}");
        assert_eq!((count(&summary, "wrote"), count(&summary, "rejected")), (2, 1), "{summary}");
        assert!(peak_kib < 128 << 10, "{}: peak RSS {peak_kib} KiB for a 256 MiB line", input.display());
        let reject: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&rejects).unwrap().trim()).unwrap();
        assert_eq!((reject["line"].as_u64(), reject["kind"].as_str()), (Some(2), Some("too_large")), "{reject}");
        assert!(reject["reason"].as_str().unwrap().starts_with(&format!("{} bytes", 256 << 20)), "{reject}");
        assert_eq!(reject["raw"].as_str().map(str::len), Some(1 << 20), "the line's first max_record_bytes are kept");
    }
}

/// Good lines read together with the end of a line too long to hold are decoded, not taken
/// for the start of the next long line (which the reader skipped on a buffer starting with
/// them, rejecting a good record per 8 MiB and holding the long line whole).
#[test]
fn lines_after_a_skipped_line_are_kept() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    let long_line = |f: &mut std::io::BufWriter<std::fs::File>, mib: usize| {
        (0..mib).for_each(|_| f.write_all(&vec![b'x'; 1 << 20]).unwrap());
        f.write_all(b"\n").unwrap();
    };
    long_line(&mut f, 20);
    (0..60_000).for_each(|_| writeln!(f, "{GOOD}").unwrap()); // ~3.8 MiB
    long_line(&mut f, 12);
    (0..10).for_each(|_| writeln!(f, "{GOOD}").unwrap());
    f.into_inner().unwrap().sync_all().unwrap();
    for threads in ["1", "2"] {
        let (out, rejects) = (dir.path().join("o.parquet"), dir.path().join("rejects.ndjson"));
        let res = lakeport(&["convert", "--schema", "gateway_dns", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--rejects", rejects.to_str().unwrap(), "--threads", threads], 0);
        let summary = String::from_utf8_lossy(&res.stdout);
        assert_eq!((count(&summary, "wrote"), count(&summary, "rejected")), (60_010, 2), "{summary}");
        let lines: Vec<u64> = std::fs::read_to_string(&rejects).unwrap().lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, [1, 60_002], "{summary}");
    }
}

/// Waits for child `pid`; its exit code and peak resident memory in KiB.
fn wait_with_peak_rss(pid: u32) -> (i32, i64) {
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: waits for our own child; both out-pointers are valid for the call.
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid as libc::pid_t, "wait4: {}", std::io::Error::last_os_error());
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}
