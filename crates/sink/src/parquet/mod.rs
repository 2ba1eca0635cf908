//! The Parquet side of the lake: encoding settings and file writing.

mod file;
mod properties;

pub use file::FileWriter;
pub use properties::{Compression, WriterOptions};
