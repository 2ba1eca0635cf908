//! Writing a tape value back out as compact JSON text (for `json` columns and `_extra`).

use simd_json::{Node, StaticNode};

/// Appends the JSON text of the value at `nodes[0]`; returns the nodes it occupied.
pub(crate) fn write_value(nodes: &[Node<'_>], out: &mut Vec<u8>) -> usize {
    match nodes[0] {
        Node::String(s) => {
            write_str(s, out);
            1
        }
        Node::Static(s) => {
            write_static(s, out);
            1
        }
        Node::Array { len, .. } => {
            out.push(b'[');
            let mut pos = 1;
            for i in 0..len {
                if i > 0 {
                    out.push(b',');
                }
                pos += write_value(&nodes[pos..], out);
            }
            out.push(b']');
            pos
        }
        Node::Object { len, .. } => {
            out.push(b'{');
            let mut pos = 1;
            for i in 0..len {
                if i > 0 {
                    out.push(b',');
                }
                pos += write_value(&nodes[pos..], out);
                out.push(b':');
                pos += write_value(&nodes[pos..], out);
            }
            out.push(b'}');
            pos
        }
    }
}

fn write_static(s: StaticNode, out: &mut Vec<u8>) {
    match s {
        StaticNode::I64(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        StaticNode::U64(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        StaticNode::F64(v) => out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes()),
        StaticNode::Bool(true) => out.extend_from_slice(b"true"),
        StaticNode::Bool(false) => out.extend_from_slice(b"false"),
        StaticNode::Null => out.extend_from_slice(b"null"),
        #[allow(unreachable_patterns)]
        _ => out.extend_from_slice(b"null"),
    }
}

/// Bytes that JSON strings must escape: `"`, `\\` and control characters.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Appends `s` as a quoted JSON string (RFC 8259 escapes: quote, backslash, control
/// characters).
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut rest = s.as_bytes();
    while let Some(i) = rest.iter().position(|&b| NEEDS_ESCAPE[b as usize]) {
        out.extend_from_slice(&rest[..i]);
        let b = rest[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]),
        }
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_serde_json() {
        let text = r#"{"a":[1,-2,3.5,true,null,"x\"y\\z\n\u0001é"],"b":{"c":{}},"d":[],"e":18446744073709551615}"#;
        let mut buf = text.as_bytes().to_vec();
        let tape = simd_json::to_tape(&mut buf).unwrap();
        let mut out = Vec::new();
        let used = write_value(&tape.0, &mut out);
        assert_eq!(used, tape.0.len());
        let want: serde_json::Value = serde_json::from_str(text).unwrap();
        let got: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(got, want);
    }
}
