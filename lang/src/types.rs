//! The types of values in a script.

use std::fmt;

/// The type of an expression, a map key or a map value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Type {
    /// Not yet inferred.
    #[default]
    Unknown,
    /// No value (`printf(...)` as an expression).
    Void,
    /// An integer of `bits` width (8, 16, 32 or 64).
    Int { bits: u8, signed: bool },
    /// A boolean (the result of a comparison or `!`).
    Bool,
    /// A zero-padded string of at most `len` bytes including the NUL.
    Str { len: u32 },
    /// An aggregation stored in a map value (`count()`, ...).
    Agg(Aggregation),
    /// `(a, b, ...)`: each element 8-byte aligned, integers 8 bytes wide.
    Tuple(Vec<Type>),
    /// A pointer to a value of the inner type (`(uint8 *)p`), in kernel or user memory.
    Ptr(Box<Type>),
    /// A struct (or union) in kernel memory, named without `struct`; reached through a
    /// pointer and only read field by field.
    Struct(String),
}

/// The aggregation functions a map value can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregation {
    Count,
}

impl Type {
    /// `uint64`.
    pub const U64: Type = Type::Int {
        bits: 64,
        signed: false,
    };
    /// `int64`.
    pub const I64: Type = Type::Int {
        bits: 64,
        signed: true,
    };
    /// `uint32`.
    pub const U32: Type = Type::Int {
        bits: 32,
        signed: false,
    };

    /// True for integers and booleans, which live in one register.
    pub fn is_scalar(&self) -> bool {
        matches!(self, Type::Int { .. } | Type::Bool | Type::Ptr(_))
    }

    /// Size in bytes when stored in a map key, value or event record (0 for a struct, which
    /// is never stored).
    pub fn size(&self) -> u32 {
        match self {
            Type::Int { bits, .. } => u32::from(*bits) / 8,
            Type::Bool => 1,
            Type::Str { len } => *len,
            Type::Agg(_) | Type::Ptr(_) => 8,
            Type::Tuple(elems) => elems.iter().map(|e| e.size().div_ceil(8) * 8).sum(),
            Type::Unknown | Type::Void | Type::Struct(_) => 0,
        }
    }

    /// For a tuple, the byte offset of each element.
    pub fn tuple_offsets(&self) -> Vec<u32> {
        let Type::Tuple(elems) = self else {
            return vec![];
        };
        let mut at = 0;
        elems
            .iter()
            .map(|e| {
                let here = at;
                at += e.size().div_ceil(8) * 8;
                here
            })
            .collect()
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Unknown => write!(f, "unknown"),
            Type::Void => write!(f, "none"),
            Type::Int { bits, signed: true } => write!(f, "int{bits}"),
            Type::Int {
                bits,
                signed: false,
            } => write!(f, "uint{bits}"),
            Type::Bool => write!(f, "bool"),
            Type::Str { len } => write!(f, "string[{len}]"),
            Type::Agg(Aggregation::Count) => write!(f, "count_t"),
            Type::Ptr(to) => write!(f, "{to} *"),
            Type::Struct(name) => write!(f, "struct {name}"),
            Type::Tuple(elems) => {
                let parts: Vec<String> = elems.iter().map(|e| e.to_string()).collect();
                write!(f, "({})", parts.join(", "))
            }
        }
    }
}
