//! Identifier rules: names that are safe in SQL (still always quoted) and in object paths.

/// Longest identifier accepted, in bytes.
pub const MAX_IDENT_LEN: usize = 63;

/// What is wrong with a name, for the caller to place in a message (its `Display`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadName {
    #[error("the name is empty")]
    Empty,
    #[error("the name is {0} bytes long, the limit is {MAX_IDENT_LEN}")]
    TooLong(usize),
    #[error("the name `{0}` must start with a lowercase ASCII letter")]
    Start(String),
    #[error("the name `{0}` contains {1:?}; only a-z, 0-9 and _ are allowed")]
    Char(String, char),
}

/// Checks a dataset, column or derived name: `[a-z][a-z0-9_]*`, at most 63 bytes.
pub fn check_ident(name: &str) -> Result<(), BadName> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(BadName::Empty);
    }
    if bytes.len() > MAX_IDENT_LEN {
        return Err(BadName::TooLong(bytes.len()));
    }
    if !bytes[0].is_ascii_lowercase() {
        return Err(BadName::Start(name.into()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        return Err(BadName::Char(name.into(), c));
    }
    Ok(())
}

/// Words whose capitals do not start words of their own (`InternalDNSRCode` is
/// `internal_dns_rcode`).
const MIXED_CASE_WORDS: [(&str, &str); 4] = [("RCode", "Rcode"), ("RData", "Rdata"), ("DoH", "Doh"), ("DoT", "Dot")];

/// Turns a JSON key such as `CNAMECategoryIDs` or `Src-IP` into a valid column name
/// (`cname_category_ids`, `src_ip`), for drafting schemas.
pub fn snake_case(key: &str) -> String {
    let mut key = key.to_string();
    for (word, spelled) in MIXED_CASE_WORDS {
        key = key.replace(word, spelled);
    }
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                // "IDs", "IPs": a plural `s` after an acronym does not start a word.
                let plural = chars.get(i + 1) == Some(&'s') && chars.get(i + 2).is_none_or(|n| !n.is_ascii_lowercase());
                let next_lower = !plural && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower) {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let mut out = out.trim_matches('_').to_string();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, "f_");
    }
    out.truncate(MAX_IDENT_LEN);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        assert!(check_ident("src_ip_2").is_ok());
        for bad in ["", "Src", "_extra", "1a", "a-b", "a b", "a;drop", "../x", "é"] {
            assert!(check_ident(bad).is_err(), "{bad}");
        }
        assert!(check_ident(&"a".repeat(64)).is_err());
    }

    #[test]
    fn snake_cases_logpush_keys() {
        for (k, v) in [
            ("CNAMECategoryIDs", "cname_category_ids"),
            ("ResolvedIPs", "resolved_ips"),
            ("SrcIPCountryCode", "src_ip_country_code"),
            ("HTTPStatusCode", "http_status_code"),
            ("URL", "url"),
            ("ResourceRecordsJSON", "resource_records_json"),
            ("Src-IP", "src_ip"),
            ("9lives", "f_9lives"),
            ("RCode", "rcode"),
            ("DoTSubdomain", "dot_subdomain"),
            ("DoHSubdomain", "doh_subdomain"),
            ("QueryApplicationIDs", "query_application_ids"),
        ] {
            assert_eq!(snake_case(k), v);
            assert!(check_ident(v).is_ok());
        }
    }

    #[test]
    fn names_the_shipped_logpush_fields_as_their_schemas_do() {
        for file in ["gateway_dns", "gateway_http"] {
            let path = format!("{}/../../schemas/{file}.toml", env!("CARGO_MANIFEST_DIR"));
            let schema = crate::Schema::from_path(std::path::Path::new(&path)).unwrap();
            let wrong: Vec<String> = schema.fields.iter().filter(|f| f.source.len() == 1 && snake_case(&f.source[0]) != f.name).map(|f| format!("{} → {}, not {}", f.source[0], snake_case(&f.source[0]), f.name)).collect();
            assert!(wrong.is_empty(), "{file}: {wrong:?}");
        }
    }
}
