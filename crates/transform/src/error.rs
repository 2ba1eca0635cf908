use std::path::PathBuf;

/// Errors of the transform crate: reading and validating schemas.
///
/// Problems with input records are not errors: they are [`crate::Reject`]s.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A schema file could not be read.
    #[error("cannot read schema file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A schema file is not valid TOML or has keys the schema language does not know.
    #[error("{origin}: {message}")]
    Syntax {
        /// Where the schema came from (file path).
        origin: String,
        /// What the TOML parser said, with line and column.
        message: String,
    },
    /// A schema is well-formed TOML but breaks a rule of the schema language.
    #[error("{origin}: {place}: {problem}; {hint}")]
    Invalid {
        /// Where the schema came from (file path).
        origin: String,
        /// The offending item, e.g. `field "src_ip"` or `[clickhouse] order_by`.
        place: String,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        hint: String,
    },
    /// `infer_schema` was given no usable sample record.
    #[error("cannot infer a schema: {0}")]
    Infer(String),
}
