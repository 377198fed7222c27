//! What the compiler produces besides bytecode: the maps, the events sent to userspace and
//! the probes, described for the runtime that loads, attaches and prints them.

use crate::bpf::Insn;
use crate::ir::Function;
use probe_lang::types::Type;
use probe_lang::{AttachKind, Span};

/// `BPF_MAP_TYPE_HASH`.
pub const MAP_HASH: u32 = 1;
/// `BPF_MAP_TYPE_ARRAY`.
pub const MAP_ARRAY: u32 = 2;
/// `BPF_MAP_TYPE_PERCPU_HASH`.
pub const MAP_PERCPU_HASH: u32 = 5;
/// `BPF_MAP_TYPE_PERCPU_ARRAY`.
pub const MAP_PERCPU_ARRAY: u32 = 6;
/// `BPF_MAP_TYPE_STACK_TRACE`.
pub const MAP_STACK_TRACE: u32 = 7;
/// `BPF_MAP_TYPE_LRU_HASH`.
pub const MAP_LRU_HASH: u32 = 9;
/// `BPF_MAP_TYPE_LRU_PERCPU_HASH`.
pub const MAP_LRU_PERCPU_HASH: u32 = 10;
/// `BPF_MAP_TYPE_RINGBUF`.
pub const MAP_RINGBUF: u32 = 27;

/// The unit of the ring buffer's size (`perf_rb_pages`).
pub const PAGE_SIZE: u32 = 4096;

/// One BPF map of the compiled program.
#[derive(Clone, Debug, PartialEq)]
pub struct MapMeta {
    /// The name the object and the kernel know it by (a C identifier).
    pub object_name: String,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// For script maps, how to read and print it.
    pub script: Option<ScriptMap>,
}

impl MapMeta {
    /// True if the map keeps one value per CPU.
    pub fn per_cpu(&self) -> bool {
        matches!(
            self.map_type,
            MAP_PERCPU_HASH | MAP_LRU_PERCPU_HASH | MAP_PERCPU_ARRAY
        )
    }

    /// True for array maps: every index exists from the start, holding zero until set,
    /// and deleting one sets it back to zero.
    pub fn array(&self) -> bool {
        matches!(self.map_type, MAP_ARRAY | MAP_PERCPU_ARRAY)
    }
}

/// A map the script declares (`@name`), with the layout of its keys and values.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptMap {
    /// The name as printed, `@` included.
    pub name: String,
    /// Each key part's type and offset in the key.
    pub key: Vec<(Type, u32)>,
    /// The value's type (an aggregation or a plain value).
    pub value: Type,
}

/// An argument of an event record: its type and byte offset in the record.
#[derive(Clone, Debug, PartialEq)]
pub struct EventArg {
    pub ty: Type,
    pub offset: u32,
}

/// An event a program sends through the ring buffer; its index is the record's first
/// 8 bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// `exit()`: stop tracing.
    Exit,
    /// `printf(format, args...)`.
    Printf { format: String, args: Vec<EventArg> },
    /// `clear(@m)`: delete every key of map number `map`.
    ClearMap { map: u32 },
    /// `zero(@m)`: set every value of map number `map` to zero.
    ZeroMap { map: u32 },
    /// `print(@m, top, div)`: print map number `map` now.
    PrintMap { map: u32, top: u64, div: u64 },
    /// `print(value)`: print one value on a line.
    Print { arg: EventArg },
    /// `system(format, args...)`: run the formatted command, its output ours.
    System { format: String, args: Vec<EventArg> },
    /// `errorf(format, args...)` (`error`) and `warnf(...)`: a message on standard error,
    /// after `ERROR: ` or `WARNING: `.
    Message {
        format: String,
        args: Vec<EventArg>,
        error: bool,
    },
    /// `cat(format, args...)`: print the file the formatted path names.
    Cat { format: String, args: Vec<EventArg> },
    /// `time(format)`: print the local time with strftime's `format`.
    Time { format: String },
    /// Never sent: the format of a `strftime(format, nsecs)` value, which names it by
    /// this event's number.
    StrftimeFormat { format: String },
    /// `join(array, separator)`: the record holds how many strings were read (8 bytes),
    /// then that many strings of `len` bytes, printed joined on a line.
    Join { separator: String, len: u32 },
}

/// One BPF program: the code of one probe body for one attach point.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledProbe {
    pub attach: AttachKind,
    /// The attach point as written.
    pub attach_text: String,
    /// Span of the attach point.
    pub span: Span,
    /// The ELF symbol and kernel name of the program.
    pub program_name: String,
    /// The ELF section, which tells libbpf the program type.
    pub section: String,
    /// The probe body, then its callbacks.
    pub ir: Vec<Function>,
    /// The code of every function, one after the other.
    pub insns: Vec<Insn>,
    /// Where each function of `ir` starts in `insns`.
    pub functions: Vec<usize>,
    /// For each instruction, the source it came from.
    pub insn_spans: Vec<Span>,
    /// Bytes of the context the program may read.
    pub ctx_size: u32,
}

/// A whole compiled script.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledProgram {
    pub probes: Vec<CompiledProbe>,
    pub maps: Vec<MapMeta>,
    pub events: Vec<EventKind>,
    /// Index in `maps` of the ring buffer.
    pub ringbuf: u32,
    /// Index in `maps` of the one-entry array counting events lost when the ring buffer
    /// was full.
    pub lost_events: u32,
    /// Index in `maps` of the one-entry array whose value, once userspace sets it, makes
    /// every probe return at once (tracing has stopped; END runs).
    pub control: u32,
    /// The script's settings.
    pub settings: probe_lang::config::Settings,
    /// The values userspace writes into the scratch map's value (on every CPU) before
    /// the probes run, each with its offset there: only those the script reads.
    pub session_values: Vec<(SessionValue, u32)>,
}

/// A value known only when tracing starts, which userspace writes for the probes to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionValue {
    /// The pid of the `-c` command (`cpid`).
    ChildPid,
    /// `bpf_ktime_get_ns()` when tracing started (for `elapsed`).
    StartNsecs,
    /// The number of possible CPUs (`ncpus`).
    Cpus,
}

/// The ELF section for a program of this attach kind.
pub fn section_for(kind: &AttachKind) -> String {
    match kind {
        AttachKind::Begin
        | AttachKind::End
        | AttachKind::Signal
        | AttachKind::RawTracepoint { .. } => "raw_tp".into(),
        // Runs of XDP programs can repeat and be timed, which raw tracepoints' cannot.
        AttachKind::Test { .. } | AttachKind::Bench { .. } => "xdp".into(),
        AttachKind::Tracepoint { category, event } => format!("tracepoint/{category}/{event}"),
        AttachKind::Kprobe {
            function,
            ret: false,
            ..
        } => format!("kprobe/{function}"),
        AttachKind::Kprobe {
            function,
            ret: true,
            ..
        } => format!("kretprobe/{function}"),
        AttachKind::Fentry {
            function,
            ret: false,
            ..
        } => format!("fentry/{function}"),
        AttachKind::Fentry {
            function,
            ret: true,
            ..
        } => format!("fexit/{function}"),
        AttachKind::Iter { target } => format!("iter/{target}"),
        AttachKind::Uprobe { ret: false, .. } | AttachKind::Usdt { .. } => "uprobe".into(),
        AttachKind::Uprobe { ret: true, .. } => "uretprobe".into(),
        AttachKind::Interval { .. }
        | AttachKind::Profile { .. }
        | AttachKind::Software { .. }
        | AttachKind::Hardware { .. } => "perf_event".into(),
    }
}

impl CompiledProgram {
    /// The BPF object to write for this program.
    pub fn object_def(&self) -> crate::object::ObjectDef {
        crate::object::ObjectDef {
            license: self.settings.license.clone(),
            maps: self
                .maps
                .iter()
                .map(|m| crate::object::MapDef {
                    name: m.object_name.clone(),
                    map_type: m.map_type,
                    key_size: m.key_size,
                    value_size: m.value_size,
                    max_entries: m.max_entries,
                })
                .collect(),
            programs: self
                .probes
                .iter()
                .map(|p| crate::object::ProgramDef {
                    name: p.program_name.clone(),
                    section: p.section.clone(),
                    insns: p.insns.clone(),
                    functions: p.functions.clone(),
                })
                .collect(),
        }
    }
}
