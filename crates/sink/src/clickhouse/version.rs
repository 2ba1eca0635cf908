//! The server's version and the features the writer picks by it.

use std::fmt;

use super::types::Dialect;

/// A ClickHouse server version, as `SELECT version()` reports it (`18.16.1`, `24.3.2.23`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    /// Year-based major version (18, 23, 24, …).
    pub major: u32,
    /// Release within the year.
    pub minor: u32,
    /// Patch release.
    pub patch: u32,
}

impl ServerVersion {
    /// Parses `major.minor[.patch[.build]]`; `None` when the text is not a version.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().unwrap_or(Some(0))?;
        Some(Self { major, minor, patch })
    }

    /// The DDL dialect for this server: modern types from 23 on.
    pub fn dialect(self) -> Dialect {
        if self.major >= 23 { Dialect::Modern } else { Dialect::Legacy }
    }

    /// Whether inserts take `insert_deduplication_token` (ClickHouse 22.2).
    pub fn has_dedup_token(self) -> bool {
        self.at_least(22, 2)
    }

    /// Whether the server has the `async_insert` setting (21.11), which the writer turns off
    /// so that the deduplication token applies (asynchronous inserts skip it by default, and
    /// are on by default since 26.2).
    pub fn has_async_insert(self) -> bool {
        self.at_least(21, 11)
    }

    /// Whether quorum inserts into one table may overlap (`insert_quorum_parallel`, on by
    /// default in 21.x): before, a second one fails while the first waits for its replicas.
    pub fn has_parallel_quorum(self) -> bool {
        self.at_least(21, 1)
    }

    /// Whether the HTTP interface takes `Content-Encoding: zstd` request bodies (20.12).
    pub fn has_zstd_body(self) -> bool {
        self.at_least(20, 12)
    }

    fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_gates_features() {
        let v = |s| ServerVersion::parse(s).unwrap();
        assert_eq!(v("18.16.1"), ServerVersion { major: 18, minor: 16, patch: 1 });
        assert_eq!(v("24.3.2.23\n").to_string(), "24.3.2");
        assert_eq!(v("22.1").patch, 0);
        assert!(!v("18.16.1").has_dedup_token() && !v("18.16.1").has_zstd_body() && !v("18.16.1").has_async_insert());
        assert!(v("22.2.1").has_dedup_token() && !v("22.1.9").has_dedup_token());
        assert!(v("20.12.3").has_zstd_body() && !v("20.11.9").has_zstd_body());
        assert_eq!((v("18.16.1").dialect(), v("22.8.1").dialect(), v("23.1.1").dialect()), (Dialect::Legacy, Dialect::Legacy, Dialect::Modern));
        assert_eq!(v("18.16.1").dialect(), Dialect::Legacy);
        assert_eq!(v("26.9.2.1").dialect(), Dialect::Modern);
        for bad in ["", "x", "18", "18.x", "18.16.x", "-1.2"] {
            assert_eq!(ServerVersion::parse(bad), None, "{bad}");
        }
    }
}
