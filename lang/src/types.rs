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
    /// A value only the runtime can show: a stack or an address printed as a symbol.
    Printed(Printed),
    /// A fixed-size array of integers (a tracepoint's `__u8 saddr[4]`), passed whole to
    /// functions such as `ntop`.
    Array { elem: Box<Type>, len: u32 },
}

/// What a `Type::Printed` value is; 16 bytes: the stack id or the address, then the
/// process id where user memory is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Printed {
    /// `kstack`, `ustack`: a stack in the stack map, shown `limit` frames deep.
    Stack {
        user: bool,
        mode: StackMode,
        limit: u8,
    },
    /// `ksym(addr)`, `usym(addr)`: the symbol an address falls in.
    Symbol { user: bool },
    /// `strerror(errno)`: the error's message.
    Errno,
    /// `username`: the name of a user id.
    UserName,
    /// `strftime(format, nsecs)`: a time; the second word names the format.
    Time,
    /// `ntop(addr)`: an IPv4 or IPv6 address; 24 bytes: the address family, then the
    /// address.
    Inet,
    /// `buf(data, len)`: bytes printed with non-printable ones as `\xNN`; the length,
    /// then up to `len` bytes.
    Buf { len: u32 },
    /// `macaddr(data)`: six bytes printed as a MAC address.
    Mac,
    /// `cgroup_path(id)`: a cgroup v2 id printed as the cgroup's path.
    CgroupPath,
    /// `signal_name(sig)`: a signal number printed as its name.
    SignalName,
    /// `syscall_name(nr)`: a system call number printed as its name.
    SyscallName,
}

impl Printed {
    /// Bytes of the value.
    pub fn size(self) -> u32 {
        match self {
            Printed::Inet => 24,
            Printed::Buf { len } => 8 + len.div_ceil(8) * 8,
            _ => 16,
        }
    }
}

/// How a stack is printed, as bpftrace's stack modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StackMode {
    /// `symbol+offset` per line.
    Bpftrace,
    /// `address symbol+offset (file)` per line, tab-indented, as perf prints stacks.
    Perf,
    /// Addresses only.
    Raw,
}

impl StackMode {
    /// The mode named `name` in `kstack(name)`.
    pub fn from_name(name: &str) -> Option<StackMode> {
        match name {
            "bpftrace" => Some(StackMode::Bpftrace),
            "perf" => Some(StackMode::Perf),
            "raw" => Some(StackMode::Raw),
            _ => None,
        }
    }
}

/// Frames a stack keeps at most: the kernel's default `perf_event_max_stack`.
pub const MAX_STACK_FRAMES: u8 = 127;

/// The aggregation functions a map value can hold, with what their output depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregation {
    /// `count()`
    Count,
    /// `sum(x)`: printed signed when `x` is.
    Sum { signed: bool },
    /// `min(x)`
    Min { signed: bool },
    /// `max(x)`
    Max { signed: bool },
    /// `avg(x)`
    Avg { signed: bool },
    /// `stats(x)`
    Stats { signed: bool },
    /// `hist(x, bits)`: each power of two split into `2^bits` buckets.
    Hist { bits: u8 },
    /// `lhist(x, min, max, step)`
    Lhist { min: i64, max: i64, step: i64 },
}

impl Aggregation {
    /// The function's name.
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Count => "count",
            Aggregation::Sum { .. } => "sum",
            Aggregation::Min { .. } => "min",
            Aggregation::Max { .. } => "max",
            Aggregation::Avg { .. } => "avg",
            Aggregation::Stats { .. } => "stats",
            Aggregation::Hist { .. } => "hist",
            Aggregation::Lhist { .. } => "lhist",
        }
    }

    /// Bytes of one CPU's value: `count` and `sum` keep one counter; `min`/`max` the value
    /// and whether it was set; `avg`/`stats` the count and the total; histograms a
    /// counter per bucket.
    pub fn value_size(self) -> u32 {
        match self {
            Aggregation::Count | Aggregation::Sum { .. } => 8,
            Aggregation::Min { .. }
            | Aggregation::Max { .. }
            | Aggregation::Avg { .. }
            | Aggregation::Stats { .. } => 16,
            Aggregation::Hist { .. } | Aggregation::Lhist { .. } => 8 * self.buckets(),
        }
    }

    /// The number of buckets of a histogram (0 for the others). A log2 histogram has one
    /// bucket for negative values, `2^bits` for the values below `2^bits`, and `2^bits`
    /// for each power of two from there up to 2^63; a linear one has one per step between
    /// `min` and `max` and one each for the values below and above.
    pub fn buckets(self) -> u32 {
        match self {
            Aggregation::Hist { bits } => (((64 - u32::from(bits)) << bits) + (1 << bits)) + 1,
            Aggregation::Lhist { min, max, step } => ((max - min) / step) as u32 + 2,
            _ => 0,
        }
    }

    /// The aggregation a map holds when two assignments store `self` and `other`: the
    /// same function (with the same parameters), signed if either is.
    pub fn unify(self, other: Aggregation) -> Option<Aggregation> {
        use Aggregation::*;
        Some(match (self, other) {
            (Sum { signed: a }, Sum { signed: b }) => Sum { signed: a || b },
            (Min { signed: a }, Min { signed: b }) => Min { signed: a || b },
            (Max { signed: a }, Max { signed: b }) => Max { signed: a || b },
            (Avg { signed: a }, Avg { signed: b }) => Avg { signed: a || b },
            (Stats { signed: a }, Stats { signed: b }) => Stats { signed: a || b },
            (a, b) if a == b => a,
            _ => return None,
        })
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Count => write!(f, "count_t"),
            Aggregation::Sum { signed } => write!(f, "{}sum_t", if *signed { "" } else { "u" }),
            Aggregation::Min { signed } => write!(f, "{}min_t", if *signed { "" } else { "u" }),
            Aggregation::Max { signed } => write!(f, "{}max_t", if *signed { "" } else { "u" }),
            Aggregation::Avg { signed } => write!(f, "{}avg_t", if *signed { "" } else { "u" }),
            Aggregation::Stats { signed } => {
                write!(f, "{}stats_t", if *signed { "" } else { "u" })
            }
            Aggregation::Hist { bits: 0 } => write!(f, "hist_t"),
            Aggregation::Hist { bits } => write!(f, "hist_t({bits})"),
            Aggregation::Lhist { min, max, step } => write!(f, "lhist_t({min}, {max}, {step})"),
        }
    }
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
            Type::Agg(agg) => agg.value_size(),
            Type::Ptr(_) => 8,
            Type::Printed(p) => p.size(),
            Type::Array { elem, len } => elem.size() * len,
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
            Type::Agg(agg) => write!(f, "{agg}"),
            Type::Ptr(to) => write!(f, "{to} *"),
            Type::Struct(name) => write!(f, "struct {name}"),
            Type::Printed(Printed::Stack { user, .. }) => {
                write!(f, "{}stack", if *user { "u" } else { "k" })
            }
            Type::Printed(Printed::Symbol { user }) => {
                write!(f, "{}sym_t", if *user { "u" } else { "k" })
            }
            Type::Printed(Printed::Errno) => write!(f, "strerror_t"),
            Type::Printed(Printed::UserName) => write!(f, "username"),
            Type::Printed(Printed::Time) => write!(f, "timestamp"),
            Type::Printed(Printed::Inet) => write!(f, "inet"),
            Type::Printed(Printed::Buf { len }) => write!(f, "buffer[{len}]"),
            Type::Printed(Printed::Mac) => write!(f, "mac_address"),
            Type::Printed(Printed::CgroupPath) => write!(f, "cgroup_path_t"),
            Type::Printed(Printed::SignalName) => write!(f, "signal_name_t"),
            Type::Printed(Printed::SyscallName) => write!(f, "syscall_name_t"),
            Type::Array { elem, len } => write!(f, "{elem}[{len}]"),
            Type::Tuple(elems) => {
                let parts: Vec<String> = elems.iter().map(|e| e.to_string()).collect();
                write!(f, "({})", parts.join(", "))
            }
        }
    }
}
