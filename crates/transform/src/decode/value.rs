//! Looking at one JSON value on a simd-json tape, and what can be wrong with it.

use std::fmt;

use simd_json::{Node, StaticNode};

/// Number of tape nodes the value starting at `nodes[0]` occupies.
pub(crate) fn value_len(nodes: &[Node<'_>]) -> usize {
    match nodes[0] {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

/// The JSON kind of a value, for messages.
pub(crate) fn kind(node: &Node<'_>) -> &'static str {
    match node {
        Node::String(_) => "string",
        Node::Object { .. } => "object",
        Node::Array { .. } => "array",
        Node::Static(StaticNode::Null) => "null",
        Node::Static(StaticNode::Bool(_)) => "bool",
        Node::Static(StaticNode::F64(_)) => "number",
        Node::Static(_) => "integer",
    }
}

/// A short rendering of a value for messages: the value itself when it is small.
pub(crate) fn describe(node: &Node<'_>) -> String {
    const MAX: usize = 64;
    match node {
        Node::String(s) if s.len() <= MAX => format!("string {s:?}"),
        Node::String(s) => {
            let cut = (0..=MAX).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
            format!("string {:?}… ({} bytes)", &s[..cut], s.len())
        }
        Node::Static(StaticNode::I64(v)) => format!("integer {v}"),
        Node::Static(StaticNode::U64(v)) => format!("integer {v}"),
        Node::Static(StaticNode::F64(v)) => format!("number {v}"),
        Node::Static(StaticNode::Bool(v)) => format!("bool {v}"),
        Node::Static(StaticNode::Null) => "null".into(),
        Node::Object { len, .. } => format!("an object of {len} keys"),
        Node::Array { len, .. } => format!("an array of {len} items"),
        #[allow(unreachable_patterns)]
        Node::Static(_) => "a number".into(),
    }
}

/// Why one value could not be stored in its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueError {
    /// The JSON type does not fit the column type.
    WrongType { found: String },
    /// A number outside the column type's range.
    OutOfRange { found: String },
    /// The right JSON type, but not a valid value (IP address, timestamp, date).
    Invalid { found: String, why: String },
    /// Null (or `""`, a missing key) where the column holds no nulls.
    Missing,
}

impl ValueError {
    pub(crate) fn wrong_type(node: &Node<'_>) -> Self {
        Self::WrongType { found: describe(node) }
    }

    pub(crate) fn out_of_range(node: &Node<'_>) -> Self {
        Self::OutOfRange { found: describe(node) }
    }

    pub(crate) fn invalid(node: &Node<'_>, why: impl Into<String>) -> Self {
        Self::Invalid { found: describe(node), why: why.into() }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType { found } => write!(f, "found {found}"),
            Self::OutOfRange { found } => write!(f, "found {found}, out of range"),
            Self::Invalid { found, why } => write!(f, "found {found}: {why}"),
            Self::Missing => f.write_str("found no value"),
        }
    }
}
