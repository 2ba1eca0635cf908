use super::json::{self, Escape};
use super::*;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

const DNS_KEYS: &[&str] = &[
    "AccountID",
    "ApplicationID",
    "ApplicationName",
    "AppliedMaxTTL",
    "AuthoritativeNameServerIPs",
    "CNAMECategoryIDs",
    "CNAMECategoryNames",
    "CNAMEs",
    "CNAMEsReversed",
    "ColoCode",
    "ColoID",
    "CustomResolveDurationMs",
    "CustomResolverAddress",
    "CustomResolverPolicyID",
    "CustomResolverPolicyName",
    "CustomResolverResponse",
    "Datetime",
    "DeviceID",
    "DeviceName",
    "DoHSubdomain",
    "DoTSubdomain",
    "DstIP",
    "DstPort",
    "EDEErrors",
    "Email",
    "InitialCategoryIDs",
    "InitialCategoryNames",
    "InitialResolvedIPs",
    "InternalDNSDurationMs",
    "InternalDNSFallbackStrategy",
    "InternalDNSRCode",
    "InternalDNSViewID",
    "InternalDNSZoneID",
    "IsResponseCached",
    "Location",
    "LocationID",
    "MatchedCategoryIDs",
    "MatchedCategoryNames",
    "MatchedIndicatorFeedIDs",
    "MatchedIndicatorFeedNames",
    "Policy",
    "PolicyID",
    "PolicyName",
    "Protocol",
    "QueryApplicationIDs",
    "QueryApplicationNames",
    "QueryCategoryIDs",
    "QueryCategoryNames",
    "QueryID",
    "QueryIndicatorFeedIDs",
    "QueryIndicatorFeedNames",
    "QueryName",
    "QueryNameReversed",
    "QuerySize",
    "QueryType",
    "QueryTypeName",
    "RCode",
    "RData",
    "RedirectTargetURI",
    "RegistrationID",
    "RequestContextCategoryIDs",
    "RequestContextCategoryNames",
    "ResolvedIPCategoryIDs",
    "ResolvedIPCategoryNames",
    "ResolvedIPContinentCodes",
    "ResolvedIPCountryCodes",
    "ResolvedIPs",
    "ResolverDecision",
    "ResolverPolicyID",
    "ResolverPolicyName",
    "ResourceRecords",
    "ResourceRecordsJSON",
    "ResponseTimeMs",
    "SrcIP",
    "SrcIPContinentCode",
    "SrcIPCountryCode",
    "SrcPort",
    "TenantID",
    "TimeZone",
    "TimeZoneInferredMethod",
    "UpstreamRecordTTLs",
    "UserID",
];
const HTTP_KEYS: &[&str] = &[
    "AccountID",
    "Action",
    "AddedHeaders",
    "AppControlInfo",
    "ApplicationIDs",
    "ApplicationNames",
    "ApplicationStatuses",
    "BlockedFileHash",
    "BlockedFileName",
    "BlockedFileReason",
    "BlockedFileSize",
    "BlockedFileType",
    "CategoryIDs",
    "CategoryNames",
    "Datetime",
    "DeletedHeaders",
    "DestinationIP",
    "DestinationIPContinentCode",
    "DestinationIPCountryCode",
    "DestinationPort",
    "DeviceID",
    "DeviceName",
    "DownloadMatchedDlpProfileEntries",
    "DownloadMatchedDlpProfiles",
    "DownloadedFileNames",
    "Email",
    "FileInfo",
    "ForensicCopyStatus",
    "HTTPHost",
    "HTTPMethod",
    "HTTPStatusCode",
    "HTTPVersion",
    "IsIsolated",
    "PolicyID",
    "PolicyName",
    "PrivateAppAUD",
    "ProxyEndpoint",
    "Quarantined",
    "RedirectTargetURI",
    "Referer",
    "RegistrationID",
    "RequestID",
    "SessionID",
    "SetHeaders",
    "SourceIP",
    "SourceIPContinentCode",
    "SourceIPCountryCode",
    "SourceInternalIP",
    "SourcePort",
    "TenantID",
    "URL",
    "UntrustedCertificateAction",
    "UploadMatchedDlpProfileEntries",
    "UploadMatchedDlpProfiles",
    "UploadedFileNames",
    "UserAgent",
    "UserID",
    "VirtualNetworkID",
    "VirtualNetworkName",
    "Warnings",
];

/// Top-level keys in document order (serde_json's Map would hide duplicates).
struct Keys(Vec<String>);
impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
                let mut v = Vec::new();
                while let Some((k, _)) = m.next_entry::<String, IgnoredAny>()? {
                    v.push(k);
                }
                Ok(Keys(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Max value of an integer field (None: not an integer field).
fn int_max(ds: Dataset, key: &str) -> Option<u64> {
    const U16: u64 = 65_535;
    const U32: u64 = u32::MAX as u64;
    match ds {
        Dataset::GatewayDns => match key {
            "DstPort" | "SrcPort" | "RCode" | "QueryType" | "InternalDNSRCode" | "EDEErrors" => {
                Some(U16)
            }
            "ApplicationID"
            | "AppliedMaxTTL"
            | "ColoID"
            | "CustomResolveDurationMs"
            | "InternalDNSDurationMs"
            | "QuerySize"
            | "ResponseTimeMs"
            | "UpstreamRecordTTLs" => Some(U32),
            k if k.ends_with("IDs") && k != "InitialResolvedIPs" => Some(U32),
            _ => None,
        },
        Dataset::GatewayHttp => match key {
            "DestinationPort" | "SourcePort" | "HTTPStatusCode" => Some(U16),
            "BlockedFileSize" => Some(u64::MAX),
            "ApplicationIDs" | "CategoryIDs" => Some(U32),
            _ => None,
        },
    }
}

fn is_ip_field(key: &str) -> bool {
    matches!(
        key,
        "SrcIP"
            | "DstIP"
            | "SourceIP"
            | "DestinationIP"
            | "SourceInternalIP"
            | "ResolvedIPs"
            | "InitialResolvedIPs"
            | "AuthoritativeNameServerIPs"
    )
}

fn check_datetime(v: &Value, start: i64) -> Result<i64, String> {
    let secs = match v {
        Value::String(s) => {
            let t = chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| format!("Datetime {s:?}: {e}"))?;
            t.timestamp()
        }
        Value::Number(n) => {
            let u = n.as_u64().ok_or("Datetime not a u64")?;
            if u < 100_000_000_000 {
                u as i64
            } else if u >= 100_000_000_000_000_000 {
                (u / 1_000_000_000) as i64
            } else {
                return Err(format!("Datetime {u} neither seconds nor nanos"));
            }
        }
        _ => return Err("Datetime type".into()),
    };
    if secs < start || secs >= start + 2 * 86_400 {
        return Err(format!("Datetime {secs} outside window"));
    }
    Ok(secs)
}

/// A strict decoder's view: Ok for a record the schema accepts.
fn validate(ds: Dataset, bytes: &[u8], start: i64) -> Result<(), String> {
    if bytes.len() > 1 << 20 {
        return Err("oversize".into());
    }
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let keys: Keys = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = HashSet::new();
    for k in &keys.0 {
        if !seen.insert(k.as_str()) {
            return Err(format!("duplicate key {k}"));
        }
    }
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("not an object")?;
    let known = if ds == Dataset::GatewayDns {
        DNS_KEYS
    } else {
        HTTP_KEYS
    };
    for (k, val) in obj {
        if !known.contains(&k.as_str()) {
            return Err(format!("unknown key {k}"));
        }
        if k == "Datetime" {
            continue;
        }
        let empty = val.as_str() == Some("");
        if let Some(max) = int_max(ds, k) {
            let check = |x: &Value| -> Result<(), String> {
                match x.as_u64() {
                    Some(n) if n <= max => Ok(()),
                    _ => Err(format!("{k}: bad integer {x}")),
                }
            };
            let list = k.ends_with("IDs") || k.ends_with("TTLs") || k == "EDEErrors";
            match val {
                Value::Array(a) if list => a.iter().try_for_each(check)?,
                _ if empty => {}
                x => check(x)?,
            }
        } else if is_ip_field(k) {
            let check = |x: &Value| -> Result<(), String> {
                match x.as_str() {
                    Some("") if !val.is_array() => Ok(()),
                    Some(s) if s.parse::<IpAddr>().is_ok() => Ok(()),
                    _ => Err(format!("{k}: bad IP {x}")),
                }
            };
            match val {
                Value::Array(a) => a.iter().try_for_each(check)?,
                x => check(x)?,
            }
        } else if matches!(
            k.as_str(),
            "IsResponseCached" | "IsIsolated" | "Quarantined"
        ) {
            if !val.is_boolean() && !empty {
                return Err(format!("{k}: not a bool"));
            }
        } else if matches!(k.as_str(), "RData" | "ResourceRecords") {
            for rr in val.as_array().ok_or("RR not array")? {
                let t = rr["type"].as_str().ok_or("RR type")?;
                t.parse::<u16>().map_err(|e| e.to_string())?;
                rr["data"].as_str().ok_or("RR data")?;
            }
        } else if matches!(k.as_str(), "FileInfo" | "AppControlInfo") {
            if !val.is_object() {
                return Err(format!("{k}: not an object"));
            }
        } else if let Value::Array(a) = val {
            if !a.iter().all(Value::is_string) {
                return Err(format!("{k}: non-string list item"));
            }
        } else if !val.is_string() {
            return Err(format!("{k}: not a string"));
        }
    }
    check_datetime(obj.get("Datetime").ok_or("no Datetime")?, start)?;
    Ok(())
}

fn generate(ds: Dataset, seed: u64, ratio: f64, n: usize) -> Vec<(RecordKind, Vec<u8>)> {
    let mut g = Generator::new(ds, seed).with_bad_ratio(ratio);
    (0..n)
        .map(|_| {
            let mut out = Vec::new();
            let k = g.next_record(&mut out);
            (k, out)
        })
        .collect()
}

const BOTH: [Dataset; 2] = [Dataset::GatewayDns, Dataset::GatewayHttp];

#[test]
fn dataset_names_round_trip() {
    for ds in BOTH {
        assert_eq!(Dataset::from_name(ds.name()), Some(ds));
    }
    assert_eq!(Dataset::from_name("gateway_x"), None);
}

#[test]
fn deterministic_per_seed() {
    for ds in BOTH {
        let mut a = Generator::new(ds, 7).with_bad_ratio(0.2);
        let mut b = Generator::new(ds, 7).with_bad_ratio(0.2);
        let mut c = Generator::new(ds, 8).with_bad_ratio(0.2);
        let (mut oa, mut ob, mut oc) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..2000 {
            assert_eq!(a.next_record(&mut oa), b.next_record(&mut ob));
            c.next_record(&mut oc);
        }
        assert_eq!(oa, ob);
        assert_ne!(oa, oc);
    }
}

/// Pins the byte stream (same on every platform). A deliberate change to the generator
/// changes these values: update them, and regenerate any fixtures made from the stream.
#[test]
fn stable_fingerprint() {
    for (ds, want) in [
        (Dataset::GatewayDns, 0x0d65_cd21_c75e_a0b2u64),
        (Dataset::GatewayHttp, 0xad48_d770_4ffc_e229),
    ] {
        let mut g = Generator::new(ds, 1);
        let mut out = Vec::new();
        for _ in 0..200 {
            g.next_record(&mut out);
        }
        // FNV-1a over the bytes.
        let h = out.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        assert_eq!(
            h,
            want,
            "{} fingerprint {h:#018x} over {} bytes",
            ds.name(),
            out.len()
        );
    }
}

#[test]
fn valid_records_decode() {
    for ds in BOTH {
        let mut formats = HashMap::new();
        let mut hours = HashSet::new();
        for (i, (k, rec)) in generate(ds, 3, 0.0, 5000).into_iter().enumerate() {
            assert_eq!(k, RecordKind::Valid);
            if let Err(e) = validate(ds, &rec, DEFAULT_START) {
                panic!(
                    "{} record {i} invalid: {e}\n{}",
                    ds.name(),
                    String::from_utf8_lossy(&rec)
                );
            }
            let v: Value = serde_json::from_slice(&rec).unwrap();
            let dt = &v["Datetime"];
            let f = match dt {
                Value::String(s) if s.contains('.') => "rfc3339-frac",
                Value::String(_) => "rfc3339",
                Value::Number(n) if n.as_u64().unwrap() > 1 << 53 => "unixnano",
                _ => "unix",
            };
            *formats.entry(f).or_insert(0) += 1;
            hours.insert(check_datetime(dt, DEFAULT_START).unwrap() / 3600);
            // Paired lists have equal lengths.
            let pairs: &[(&str, &str)] = if ds == Dataset::GatewayDns {
                &[
                    ("InitialCategoryIDs", "InitialCategoryNames"),
                    ("QueryCategoryIDs", "QueryCategoryNames"),
                    ("MatchedCategoryIDs", "MatchedCategoryNames"),
                    ("CNAMECategoryIDs", "CNAMECategoryNames"),
                    ("ResolvedIPs", "ResolvedIPCountryCodes"),
                    ("ResourceRecords", "UpstreamRecordTTLs"),
                ]
            } else {
                &[
                    ("CategoryIDs", "CategoryNames"),
                    ("ApplicationIDs", "ApplicationNames"),
                ]
            };
            for (a, b) in pairs {
                if let (Some(x), Some(y)) = (v[a].as_array(), v[b].as_array()) {
                    assert_eq!(x.len(), y.len(), "{a} vs {b}");
                }
            }
            if let Some(s) = v.get("ResourceRecordsJSON").and_then(Value::as_str) {
                let inner: Value = serde_json::from_str(s).unwrap();
                assert!(inner.is_array());
            }
        }
        assert_eq!(formats.len(), 4, "{formats:?}");
        assert!(hours.len() >= 40, "only {} distinct hours", hours.len());
    }
}

#[test]
fn every_bad_kind_appears_and_is_rejected() {
    for ds in BOTH {
        let mut counts: HashMap<BadKind, usize> = HashMap::new();
        let mut valid = 0;
        for (i, (k, rec)) in generate(ds, 11, 0.5, 2000).into_iter().enumerate() {
            match k {
                RecordKind::Valid => {
                    valid += 1;
                    validate(ds, &rec, DEFAULT_START).unwrap();
                }
                RecordKind::Bad(b) => {
                    *counts.entry(b).or_insert(0) += 1;
                    if validate(ds, &rec, DEFAULT_START).is_ok() {
                        panic!(
                            "{} record {i} ({b:?}) accepted: {}",
                            ds.name(),
                            String::from_utf8_lossy(&rec[..rec.len().min(2000)])
                        );
                    }
                    match b {
                        BadKind::Oversize => {
                            assert!(rec.len() > 1_100_000 && rec.len() < 1_200_000)
                        }
                        BadKind::InvalidUtf8 => assert!(rec.windows(2).any(|w| w == [0xff, 0xfe])),
                        BadKind::MissingRequired => {
                            assert!(!rec.windows(10).any(|w| w == b"\"Datetime\""))
                        }
                        _ => {}
                    }
                }
            }
        }
        for b in BadKind::ALL {
            assert!(
                counts.get(&b).copied().unwrap_or(0) >= 50,
                "{}: {b:?} {counts:?}",
                ds.name()
            );
        }
        assert!((800..1200).contains(&valid), "{valid} valid");
    }
}

#[test]
fn bad_ratio_extremes() {
    for ds in BOTH {
        assert!(generate(ds, 5, 0.0, 300)
            .iter()
            .all(|r| r.0 == RecordKind::Valid));
        assert!(generate(ds, 5, 1.0, 300)
            .iter()
            .all(|r| r.0 != RecordKind::Valid));
        assert!(generate(ds, 5, f64::NAN, 100)
            .iter()
            .all(|r| r.0 == RecordKind::Valid));
    }
}

#[test]
fn no_newlines_anywhere() {
    for ds in BOTH {
        for (_, rec) in generate(ds, 13, 0.3, 3000) {
            assert!(!rec.contains(&b'\n') && !rec.contains(&b'\r'));
        }
    }
}

#[test]
fn sizes_realistic() {
    for (ds, lo, hi) in [
        (Dataset::GatewayDns, 600, 1200),
        (Dataset::GatewayHttp, 800, 1600),
    ] {
        let recs = generate(ds, 17, 0.0, 5000);
        let sizes: Vec<usize> = recs.iter().map(|r| r.1.len()).collect();
        let avg = sizes.iter().sum::<usize>() / sizes.len();
        let max = sizes.iter().max().copied().unwrap_or(0);
        let min = sizes.iter().min().copied().unwrap_or(0);
        eprintln!("{}: avg {avg} min {min} max {max}", ds.name());
        assert!((lo..=hi).contains(&avg), "{} avg {avg}", ds.name());
        assert!(max > hi, "no size tail");
    }
}

#[test]
fn nanosecond_timestamps_exact() {
    let mut n = 0;
    for (_, rec) in generate(Dataset::GatewayDns, 19, 0.0, 2000) {
        let text = std::str::from_utf8(&rec).unwrap();
        let Some(p) = text.find("\"Datetime\":") else {
            continue;
        };
        let rest = &text[p + 11..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.len() == 19 {
            let u: u64 = digits.parse().unwrap();
            assert!(u > 1 << 53);
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(v["Datetime"].as_u64(), Some(u));
            assert_eq!(u.to_string(), digits);
            n += 1;
        }
    }
    assert!(n > 300, "{n} nanosecond timestamps");
}

#[test]
fn with_start_moves_window() {
    let start = 1_700_000_000;
    let mut g = Generator::new(Dataset::GatewayHttp, 1).with_start(start);
    for _ in 0..500 {
        let mut out = Vec::new();
        g.next_record(&mut out);
        validate(Dataset::GatewayHttp, &out, start).unwrap();
    }
}

#[test]
fn live_records_arrive_in_time_order() {
    let start = 1_700_000_000;
    for ds in [Dataset::GatewayDns, Dataset::GatewayHttp] {
        let mut g = Generator::new(ds, 3).with_start(start).live(1000);
        let mut latest = start;
        for n in 0..5000 {
            let mut out = Vec::new();
            g.next_record(&mut out);
            validate(ds, &out, start).unwrap();
            let v: Value = serde_json::from_slice(&out).unwrap();
            let secs = check_datetime(&v["Datetime"], start).unwrap();
            assert!(
                secs + 5 >= latest && secs <= start + 5 + n / 1000,
                "record {n} at {secs}, latest {latest}"
            );
            latest = latest.max(secs);
        }
        assert!(
            latest >= start + 9,
            "5000 records at 1000/s span 5 s after the first 5: {latest}"
        );
    }
}

#[test]
fn popular_names_dominate() {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (_, rec) in generate(Dataset::GatewayDns, 23, 0.0, 5000) {
        let v: Value = serde_json::from_slice(&rec).unwrap();
        *counts
            .entry(v["QueryName"].as_str().unwrap().to_ascii_lowercase())
            .or_insert(0) += 1;
    }
    let top = counts.get("www.google.com").copied().unwrap_or(0);
    assert!(top > 100, "www.google.com {top}");
    assert!(counts.len() > 1000, "only {} names", counts.len());
}

#[test]
fn string_writer_matches_serde_json() {
    let mut samples: Vec<String> = [
        "",
        "plain",
        "quote \" and \\ backslash",
        "nl\nand\ttab\r",
        "\u{0}\u{1}\u{1f}\u{7f}",
        "Zoë Büro München",
        "東京オフィス",
        "emoji 🚀✨",
        "<script>&amp;</script>",
        "line\u{2028}sep\u{2029}",
        "\u{8}\u{c}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Random strings over a mixed alphabet.
    let alphabet: Vec<char> = "ab\"\\\n\t\u{1}<>&é€😀\u{2028} /".chars().collect();
    let mut x = 12345u64;
    for _ in 0..500 {
        let mut s = String::new();
        for _ in 0..(x % 20) {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push(alphabet[(x >> 33) as usize % alphabet.len()]);
        }
        samples.push(s);
    }
    for s in &samples {
        let mut out = Vec::new();
        json::write_str(&mut out, s, Escape::Minimal);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(s).unwrap()
        );
        for esc in [Escape::Go, Escape::Ascii] {
            let mut out = Vec::new();
            json::write_str(&mut out, s, esc);
            assert!(!out.contains(&b'\n'));
            if esc == Escape::Ascii {
                assert!(out.is_ascii());
            } else {
                assert!(!out.contains(&b'<') && !out.contains(&b'&'));
            }
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(&back, s);
        }
    }
}

#[test]
fn base64_and_ints() {
    for (i, o) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        let mut out = Vec::new();
        json::write_base64(&mut out, i.as_bytes());
        assert_eq!(out, o.as_bytes());
    }
    let mut out = Vec::new();
    json::write_u64(&mut out, u64::MAX);
    assert_eq!(out, b"18446744073709551615");
}

#[test]
fn datetime_formatting_matches_chrono() {
    use chrono::{DateTime, Utc};
    let mut secs = 0i64;
    while secs < 253_402_300_799 {
        for (fmt, nanos) in [
            (json::TimeFormat::Rfc3339, 0),
            (json::TimeFormat::Rfc3339Nanos, 123_456_789),
            (json::TimeFormat::Rfc3339Millis, 987_000_000),
        ] {
            let mut out = Vec::new();
            json::write_datetime(&mut out, secs, nanos, fmt);
            let s: String = serde_json::from_slice(&out).unwrap();
            let t = DateTime::parse_from_rfc3339(&s)
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(t.timestamp(), secs, "{s}");
            assert_eq!(t.timestamp_subsec_nanos(), nanos, "{s}");
        }
        secs += 86_400 * 37 + 3_607;
    }
    let mut out = Vec::new();
    json::write_datetime(&mut out, DEFAULT_START + 1, 5, json::TimeFormat::UnixNanos);
    assert_eq!(out, b"1795392001000000005");
    let mut out = Vec::new();
    json::write_datetime(&mut out, 7, 5, json::TimeFormat::UnixNanos); // would read as µs: seconds instead
    assert_eq!(out, b"7");
}
