//! Request-body encodings: HTTP `Content-Encoding` (gzip, zstd) or ClickHouse's own
//! compressed blocks (LZ4, with `decompress=1`), the format its native clients send.

use std::io::Write as _;

use bytes::Bytes;

/// gzip level. On Gateway Native bodies (`benches/clickhouse.rs`) level 1 compresses 4–5× at
/// ~300 MB/s per core, level 6 5–7× at ~40 MB/s.
const GZIP_LEVEL: u32 = 1;
/// zstd level (zstd's default): 6–8× at ~450 MB/s per core, where level 1 gives 5.7–7.5× at
/// ~670 MB/s.
const ZSTD_LEVEL: i32 = 3;
/// Uncompressed bytes per ClickHouse block: the size its own clients write (1 MiB).
const BLOCK_BYTES: usize = 1 << 20;
/// ClickHouse's method byte for LZ4 blocks.
const LZ4_METHOD: u8 = 0x82;
/// Method byte, compressed size and uncompressed size (both u32 LE) after the checksum.
const HEADER_BYTES: usize = 9;
/// CityHash128 (v1.0.2) of the header and the compressed data, first in each block.
const CHECKSUM_BYTES: usize = 16;

/// How a request body travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Codec {
    Identity,
    Gzip,
    Zstd,
    /// ClickHouse compressed blocks of LZ4: cheapest to make, every server version.
    Lz4Blocks,
}

/// How the server learns the body's encoding.
pub(super) enum Marker {
    None,
    /// A `Content-Encoding` header.
    Header(&'static str),
    /// A query parameter (`decompress=1`).
    Param(&'static str, &'static str),
}

impl Codec {
    pub(super) fn marker(self) -> Marker {
        match self {
            Codec::Identity => Marker::None,
            Codec::Gzip => Marker::Header("gzip"),
            Codec::Zstd => Marker::Header("zstd"),
            Codec::Lz4Blocks => Marker::Param("decompress", "1"),
        }
    }

    /// `body` encoded.
    pub(super) fn encode(self, body: Vec<u8>) -> Bytes {
        match self {
            Codec::Identity => Bytes::from(body),
            Codec::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::new(GZIP_LEVEL));
                gz.write_all(&body).expect("writing to memory cannot fail");
                Bytes::from(gz.finish().expect("writing to memory cannot fail"))
            }
            Codec::Zstd => Bytes::from(zstd::bulk::compress(&body, ZSTD_LEVEL).expect("zstd compresses any input in memory")),
            Codec::Lz4Blocks => Bytes::from(lz4_blocks(&body)),
        }
    }
}

/// `body` as ClickHouse compressed blocks: per 1 MiB, checksum, header, LZ4 block.
fn lz4_blocks(body: &[u8]) -> Vec<u8> {
    let bound = lz4_flex::block::get_maximum_output_size(BLOCK_BYTES.min(body.len()));
    let mut out = Vec::with_capacity(body.len().div_ceil(BLOCK_BYTES) * (CHECKSUM_BYTES + HEADER_BYTES) + body.len() / 2);
    for chunk in body.chunks(BLOCK_BYTES) {
        let start = out.len();
        out.resize(start + CHECKSUM_BYTES + HEADER_BYTES + bound, 0);
        let data = start + CHECKSUM_BYTES + HEADER_BYTES;
        let len = lz4_flex::block::compress_into(chunk, &mut out[data..]).expect("the output holds the bound of a block");
        out.truncate(data + len);
        let header = &mut out[start + CHECKSUM_BYTES..data];
        header[0] = LZ4_METHOD;
        header[1..5].copy_from_slice(&block_u32(HEADER_BYTES + len).to_le_bytes());
        header[5..9].copy_from_slice(&block_u32(chunk.len()).to_le_bytes());
        let checksum = checksum(&out[start + CHECKSUM_BYTES..]);
        out[start..start + CHECKSUM_BYTES].copy_from_slice(&checksum);
    }
    out
}

/// CityHash128 v1.0.2 as ClickHouse writes it: the upper 64 bits of the crate's `u128`
/// first, each half little endian.
fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_BYTES] {
    cityhash_rs::cityhash_102_128(bytes).rotate_left(64).to_le_bytes()
}

/// A size within one block (at most the LZ4 bound of 1 MiB).
fn block_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a block is far below 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_decompress_to_what_was_sent() {
        let body = b"Native block".repeat(100);
        assert_eq!(Codec::Identity.encode(body.clone()), body);
        assert_eq!(zstd::decode_all(&Codec::Zstd.encode(body.clone())[..]).unwrap(), body);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&Codec::Gzip.encode(body.clone())[..]), &mut out).unwrap();
        assert_eq!(out, body);
    }

    /// The exact bytes ClickHouse 18.16 itself sent for `port\n` as the last block of a
    /// `compress=1` answer, and a body cut into 1 MiB blocks that decode back.
    #[test]
    fn lz4_blocks_are_clickhouse_blocks() {
        assert_eq!(hex(&lz4_blocks(b"port\n")), "93ecdcef6e1408dbcc9bb2a61ddb79b0820f0000000500000050706f72740a");

        let body: Vec<u8> = (0..(BLOCK_BYTES * 2 + 1000)).map(|i| (i % 251) as u8).collect();
        let wire = lz4_blocks(&body);
        let (mut at, mut back) = (0, Vec::new());
        while at < wire.len() {
            let header = &wire[at + CHECKSUM_BYTES..at + CHECKSUM_BYTES + HEADER_BYTES];
            let compressed = u32::from_le_bytes(header[1..5].try_into().unwrap()) as usize;
            let size = u32::from_le_bytes(header[5..9].try_into().unwrap()) as usize;
            let end = at + CHECKSUM_BYTES + compressed;
            assert_eq!(wire[at..at + 16], checksum(&wire[at + 16..end]));
            back.extend(lz4_flex::block::decompress(&wire[at + CHECKSUM_BYTES + HEADER_BYTES..end], size).unwrap());
            at = end;
        }
        assert_eq!(back, body);
        assert!(lz4_blocks(&[]).is_empty());
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
