//! Parquet encoding settings: compression, row groups, dictionaries, metadata.

use arrow_schema::Schema as ArrowSchema;
use parquet::basic::{Compression as ParquetCompression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::Codec;

/// Default rows per row group.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 1 << 20;
/// Default largest row group, in bytes of encoded data.
pub const DEFAULT_ROW_GROUP_BYTES: usize = 128 << 20;
/// Default zstd level: a good ratio at a few hundred MB/s per core.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// How Parquet files are encoded.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Page compression (default zstd).
    pub compression: Codec,
    /// zstd level, 1 to 22 (default 3), when `compression` is zstd.
    pub zstd_level: i32,
    /// Most rows per row group (default 1 Mi).
    pub row_group_rows: usize,
    /// Most encoded bytes per row group (default 128 MiB).
    pub row_group_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self { compression: Codec::Zstd, zstd_level: DEFAULT_ZSTD_LEVEL, row_group_rows: DEFAULT_ROW_GROUP_ROWS, row_group_bytes: DEFAULT_ROW_GROUP_BYTES }
    }
}

impl WriterOptions {
    /// Parquet writer properties for files of `schema`, with `metadata` added to the
    /// file's key-value metadata after the dataset and schema version of `schema`.
    pub(crate) fn properties(&self, schema: &ArrowSchema, metadata: &[(String, String)]) -> WriterProperties {
        let compression = match self.compression {
            Codec::Zstd => ParquetCompression::ZSTD(ZstdLevel::try_new(self.zstd_level).unwrap_or_default()),
            Codec::Snappy => ParquetCompression::SNAPPY,
            Codec::Lz4 => ParquetCompression::LZ4_RAW,
            Codec::None => ParquetCompression::UNCOMPRESSED,
        };
        let kv = schema
            .metadata()
            .iter()
            .filter(|(k, _)| k.starts_with("lakeport."))
            .chain(metadata.iter().map(|(k, v)| (k, v)))
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.row_group_rows))
            .set_max_row_group_bytes(Some(self.row_group_bytes))
            .set_dictionary_enabled(true)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_key_value_metadata(Some(kv))
            .build()
    }
}
