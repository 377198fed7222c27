//! probe-stdlib: every builtin variable, function and aggregation, each defined once in its
//! own module: its signature and docs (for the checker and `--help`), its lowering to IR
//! (for the compiler) and, where it has one, its output formatting (for the runtime).

mod args;
mod avg_stats;
mod bswap;
mod buf;
mod cgroup_path;
mod clear;
mod comm;
mod count;
mod cpid;
mod cpu;
mod ctx;
mod curtask;
mod delete;
mod elapsed;
mod exit;
mod has_key;
mod hist;
mod join;
mod kptr;
mod len;
mod lhist;
mod lookups;
mod min_max;
mod names;
mod ncpus;
mod nsecs;
mod ntop;
mod pid;
mod print;
pub mod printf;
mod probe_name;
mod reg;
mod signal;
mod stack;
mod static_assert;
pub(crate) mod str;
mod strcontains;
mod strerror;
mod strftime;
mod strlen;
mod strncmp;
mod sum;
mod system;
mod task_helpers;
mod tid;
mod time;
mod uid_gid;
mod username;
mod zero;

use probe_compiler::ir::{Operand, VReg};
use probe_compiler::lower::{LowerCx, Value};
use probe_compiler::{ArgValue, BuiltinFormat, BuiltinLowering, RenderedAggregation};
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::{Aggregation, Type};
use probe_lang::{AttachKind, Builtins, Diagnostic, Span};

/// A builtin variable such as `comm` or `pid`.
pub struct Variable {
    pub name: &'static str,
    pub doc: &'static str,
    /// Its type in a probe attached to a place of this kind.
    pub ty: fn(&AttachKind) -> Type,
    /// Whether a probe of this kind has the variable, and why not.
    pub available: fn(&AttachKind) -> Result<(), String>,
    /// Read from the probe's context (so not inside a `for` over a map).
    pub reads_context: bool,
    pub lower: fn(&mut LowerCx) -> Value,
}

/// For variables that every probe has.
pub fn anywhere(_: &AttachKind) -> Result<(), String> {
    Ok(())
}

/// The result of lowering a call: its value (if it has one), or an error.
pub type LowerResult = Result<Option<Value>, Diagnostic>;

/// The result of checking a call: its type, or an error.
pub type CheckResult = Result<Type, Diagnostic>;

/// A builtin function such as `printf` or `exit`.
pub struct Function {
    pub name: &'static str,
    /// How it is called, for the docs: `printf(fmt, ...)`.
    pub signature: &'static str,
    pub doc: &'static str,
    pub check: fn(&Ident, &[Expr], Span) -> CheckResult,
    pub lower: fn(&Ident, &[Expr], Span, &mut LowerCx) -> LowerResult,
}

/// An aggregation such as `count()`: a function whose result lives in a per-CPU map value.
pub struct AggregationDef {
    pub name: &'static str,
    pub signature: &'static str,
    pub doc: &'static str,
    /// Checks the arguments and returns the aggregation's type, with its parameters.
    pub check: fn(&Ident, &[Expr], Span) -> CheckResult,
    /// Updates the value `ptr` points to (this CPU's slot).
    pub lower: fn(Aggregation, &[Expr], VReg, &mut LowerCx) -> Result<(), Diagnostic>,
    /// Merges the per-CPU values, divides what is shown by the last argument, and renders
    /// the result.
    pub format: fn(Aggregation, &[&[u8]], u64) -> RenderedAggregation,
}

/// Every builtin variable.
pub const VARIABLES: &[&Variable] = &[
    &args::ARG0,
    &args::ARG1,
    &args::ARG2,
    &args::ARG3,
    &args::ARG4,
    &args::ARG5,
    &args::ARG6,
    &args::ARG7,
    &args::ARG8,
    &args::ARG9,
    &args::RETVAL,
    &comm::COMM,
    &cpid::CPID,
    &cpu::CPU,
    &ctx::CTX,
    &curtask::CURTASK,
    &elapsed::ELAPSED,
    &task_helpers::CGROUP,
    &uid_gid::GID,
    &task_helpers::JIFFIES,
    &ncpus::NCPUS,
    &nsecs::NSECS,
    &task_helpers::NUMAID,
    &pid::PID,
    &stack::KSTACK,
    &stack::USTACK,
    &probe_name::FUNC,
    &probe_name::PROBE,
    &task_helpers::RAND,
    &tid::TID,
    &uid_gid::UID,
    &username::USERNAME,
    &reg::USERMODE,
];
/// A builtin variable written in the language itself: the expression it stands for.
pub struct Expansion {
    pub name: &'static str,
    pub doc: &'static str,
    /// The expression, from a script in `stdlib/src/scripts/`.
    pub source: &'static str,
}

/// Every builtin variable written as an expression of the language.
pub const EXPANSIONS: &[&Expansion] = &[&Expansion {
    name: "ppid",
    doc: "process id of the current task's parent",
    source: include_str!("scripts/ppid.bt"),
}];

/// A builtin function written in the language itself, as a macro.
pub struct ScriptMacro {
    pub name: &'static str,
    pub signature: &'static str,
    pub doc: &'static str,
    /// The macro's definition, from a script in `stdlib/src/scripts/`.
    pub source: &'static str,
}

/// Every builtin function written as a macro.
pub const MACROS: &[&ScriptMacro] = &[&ScriptMacro {
    name: "assert",
    signature: "assert(condition, \"message\")",
    doc: "when the condition is false, prints the message on standard error and stops tracing",
    source: include_str!("scripts/assert.bt"),
}];

/// Every builtin function.
pub const FUNCTIONS: &[&Function] = &[
    &bswap::BSWAP,
    &buf::BUF,
    &lookups::CGROUPID,
    &cgroup_path::CGROUP_PATH,
    &system::CAT,
    &clear::CLEAR,
    &delete::DELETE,
    &system::ERRORF,
    &exit::EXIT,
    &has_key::HAS_KEY,
    &join::JOIN,
    &lookups::KADDR,
    &kptr::KPTR,
    &buf::MACADDR,
    &ntop::NTOP,
    &len::LEN,
    &stack::KSTACK_CALL,
    &static_assert::STATIC_ASSERT,
    &stack::KSYM,
    &print::PRINT,
    &printf::PRINTF,
    &reg::REG,
    &signal::SIGNAL,
    &names::SIGNAL_NAME,
    &signal::SIGNAL_THREAD,
    &str::STR,
    &names::SYSCALL_NAME,
    &system::SYSTEM,
    &time::TIME,
    &strcontains::STRCONTAINS,
    &strerror::STRERROR,
    &strftime::STRFTIME,
    &strlen::STRLEN,
    &strncmp::STRNCMP,
    &strcontains::STRSTR,
    &stack::USTACK_CALL,
    &stack::USYM,
    &kptr::UPTR,
    &system::WARNF,
    &zero::ZERO,
];
/// Every aggregation.
pub const AGGREGATIONS: &[&AggregationDef] = &[
    &avg_stats::AVG,
    &count::COUNT,
    &hist::HIST,
    &lhist::LHIST,
    &min_max::MAX,
    &min_max::MIN,
    &avg_stats::STATS,
    &sum::SUM,
];

/// Every builtin with its signature and one line of docs, for `probe --help-builtins`.
pub fn help() -> String {
    let mut out = String::from("Variables:\n");
    let mut variables: Vec<(&str, &str)> = VARIABLES
        .iter()
        .map(|v| (v.name, v.doc))
        .chain(EXPANSIONS.iter().map(|e| (e.name, e.doc)))
        .collect();
    variables.sort();
    for (name, doc) in variables {
        help_line(&mut out, name, doc);
    }
    out.push_str("\nFunctions:\n");
    let mut functions: Vec<(&str, &str, &str)> = FUNCTIONS
        .iter()
        .map(|f| (f.name, f.signature, f.doc))
        .chain(MACROS.iter().map(|m| (m.name, m.signature, m.doc)))
        .collect();
    functions.sort();
    for (_, signature, doc) in functions {
        help_line(&mut out, signature, doc);
    }
    out.push_str("\nAggregations (assigned to a map):\n");
    let mut aggregations: Vec<&AggregationDef> = AGGREGATIONS.to_vec();
    aggregations.sort_by_key(|a| a.name);
    for a in aggregations {
        help_line(&mut out, a.signature, a.doc);
    }
    out
}

/// One entry of the help: the usage in a column, the docs beside it (or below, indented,
/// when the usage is too wide).
fn help_line(out: &mut String, usage: &str, doc: &str) {
    const COLUMN: usize = 34;
    if usage.len() > COLUMN {
        out.push_str(&format!("  {usage}\n  {:COLUMN$} {doc}\n", ""));
    } else {
        out.push_str(&format!("  {usage:<COLUMN$} {doc}\n"));
    }
}

/// The standard library, as the checker, the compiler and the runtime see it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stdlib;

impl Stdlib {
    fn function(name: &str) -> Option<&'static Function> {
        FUNCTIONS.iter().copied().find(|f| f.name == name)
    }

    fn aggregation(name: &str) -> Option<&'static AggregationDef> {
        AGGREGATIONS.iter().copied().find(|a| a.name == name)
    }
}

/// Functions whose first argument names a map.
const MAP_FUNCTIONS: [&str; 5] = ["clear", "delete", "has_key", "len", "zero"];

/// bpftrace's builtin variables and functions that are not implemented yet: using one is
/// a "not supported yet" error rather than an unknown name.
const PLANNED: &[&str] = &[
    "args",
    "tseries",
    "str_concat",
    "uaddr",
    "pton",
    "path",
    "override",
    "skboutput",
    "socket_cookie",
    "unwatch",
    "hash",
    "lruhash",
    "percpuhash",
    "percpulruhash",
    "percpuarray",
];

impl Builtins for Stdlib {
    fn takes_map(&self, name: &str) -> bool {
        MAP_FUNCTIONS.contains(&name)
    }

    fn macros(&self) -> Vec<&'static str> {
        MACROS.iter().map(|m| m.source).collect()
    }

    fn expansion(&self, name: &str) -> Option<&'static str> {
        EXPANSIONS
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.source.trim())
    }

    fn is_unsafe(&self, name: &str) -> bool {
        matches!(name, "system" | "signal" | "signal_thread")
    }

    fn untyped_arguments(&self, name: &str) -> bool {
        matches!(name, "kstack" | "ustack")
    }

    fn takes_whole_map(&self, name: &str) -> bool {
        name == "print"
    }

    fn planned(&self, name: &str) -> bool {
        PLANNED.contains(&name)
    }

    fn variable(&self, name: &str, kind: &AttachKind) -> Option<Result<Type, String>> {
        let v = VARIABLES.iter().find(|v| v.name == name)?;
        Some((v.available)(kind).map(|()| (v.ty)(kind)))
    }

    fn reads_context(&self, name: &str) -> bool {
        VARIABLES.iter().any(|v| v.name == name && v.reads_context)
    }

    fn check_call(&self, name: &Ident, args: &[Expr], span: Span) -> Option<CheckResult> {
        if let Some(f) = Self::function(&name.name) {
            return Some((f.check)(name, args, span));
        }
        Self::aggregation(&name.name).map(|a| (a.check)(name, args, span))
    }
}

impl BuiltinLowering for Stdlib {
    fn lower_variable(&self, name: &Ident, cx: &mut LowerCx) -> Result<Value, Diagnostic> {
        match VARIABLES.iter().find(|v| v.name == name.name) {
            Some(v) => Ok((v.lower)(cx)),
            None => Err(Diagnostic::error(
                name.span,
                format!("unknown identifier `{}`", name.name),
            )),
        }
    }

    fn lower_call(
        &self,
        name: &Ident,
        args: &[Expr],
        span: Span,
        cx: &mut LowerCx,
    ) -> Result<Option<Value>, Diagnostic> {
        match Self::function(&name.name) {
            Some(f) => (f.lower)(name, args, span, cx),
            None => Err(Diagnostic::error(
                span,
                format!("{}() can only be assigned to a map", name.name),
            )
            .with_label("aggregation used here")),
        }
    }

    fn lower_aggregation(
        &self,
        name: &Ident,
        agg: Aggregation,
        args: &[Expr],
        value: VReg,
        cx: &mut LowerCx,
    ) -> Result<(), Diagnostic> {
        let def = Self::aggregation(&name.name).ok_or_else(|| {
            Diagnostic::error(name.span, format!("`{}` is not an aggregation", name.name))
        })?;
        (def.lower)(agg, args, value, cx)
    }
}

impl BuiltinFormat for Stdlib {
    fn printf(&self, format: &str, args: &[ArgValue]) -> String {
        printf::render(format, args)
    }

    fn aggregation(&self, agg: Aggregation, per_cpu: &[&[u8]], div: u64) -> RenderedAggregation {
        let def = Self::aggregation(agg.name()).expect("every aggregation is defined");
        (def.format)(agg, per_cpu, div)
    }
}

/// Checks that a call has exactly `n` arguments.
fn expect_args(
    name: &Ident,
    args: &[Expr],
    span: Span,
    n: usize,
    signature: &str,
) -> Result<(), Diagnostic> {
    if args.len() == n {
        return Ok(());
    }
    Err(Diagnostic::error(
        span,
        format!(
            "{}() takes {n} argument{}, {} given",
            name.name,
            if n == 1 { "" } else { "s" },
            args.len()
        ),
    )
    .with_label("in this call")
    .with_note(format!("usage: {signature}")))
}

/// Checks that a call has one integer argument; returns whether it is signed.
fn expect_integer(
    name: &Ident,
    args: &[Expr],
    span: Span,
    signature: &str,
) -> Result<bool, Diagnostic> {
    expect_args(name, args, span, 1, signature)?;
    match &args[0].ty {
        Type::Int { signed, .. } => Ok(*signed),
        Type::Bool => Ok(false),
        other => Err(Diagnostic::error(
            args[0].span,
            format!("{}() takes an integer, not {other}", name.name),
        )
        .with_label("not an integer")
        .with_note(format!("usage: {signature}"))),
    }
}

/// Checks that `arg` is a string.
fn expect_string(name: &Ident, arg: &Expr, signature: &str) -> Result<(), Diagnostic> {
    match arg.ty {
        Type::Str { .. } => Ok(()),
        ref other => Err(Diagnostic::error(
            arg.span,
            format!("{}() takes a string here, not {other}", name.name),
        )
        .with_label("not a string")
        .with_note(format!(
            "usage: {signature}; read a string from memory with str(ptr)"
        ))),
    }
}

/// A "not supported yet" error naming `what`.
fn not_supported_yet(span: Span, what: &str) -> Diagnostic {
    probe_lang::lexer::not_supported_yet(span, what)
}

/// A `Type::Printed` value of two 64-bit words (what is printed, and a second word: a
/// process id, a format's number, or 0), in a new stack slot.
fn printed_words(cx: &mut LowerCx, first: Operand, second: Operand) -> Value {
    use probe_compiler::ir::{Addr, Inst, MemSize};
    let slot = cx.zeroed_slot(16);
    for (off, src) in [(0, first), (8, second)] {
        cx.emit(Inst::Store {
            addr: Addr::Stack { slot, off },
            src,
            size: MemSize::DW,
        });
    }
    Value::Mem {
        addr: Addr::Stack { slot, off: 0 },
        len: 16,
    }
}

/// The current process's id (for user addresses, which only mean something in it).
fn current_pid(cx: &mut LowerCx) -> Operand {
    let both = cx.call(probe_compiler::lower::helper::GET_CURRENT_PID_TGID, vec![]);
    Operand::Reg(cx.alu(probe_compiler::ir::AluOp::Rsh, both, Operand::Imm(32)))
}

/// A 64-bit value as the number it stands for.
fn widen(v: u64, signed: bool) -> i128 {
    if signed {
        i128::from(v as i64)
    } else {
        i128::from(v)
    }
}

/// A plain number, shown divided by `div`, and ordered by its value.
fn number(value: i128, div: u64) -> RenderedAggregation {
    let shown = (value / i128::from(div.max(1))).to_string();
    RenderedAggregation {
        order: value,
        json: shown.clone(),
        text: shown,
        multiline: false,
    }
}

/// Reads a little-endian u64 from the start of `b` (missing bytes count as zero).
fn read_u64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = b.len().min(8);
    w[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(w)
}

/// Checks `f(@m[key])` or `f(@m, key)`: a map and exactly one way of giving the key.
fn expect_map_and_key(
    name: &Ident,
    args: &[Expr],
    span: Span,
    signature: &str,
) -> Result<(), Diagnostic> {
    let keyed =
        matches!(args.first().map(|a| &a.kind), Some(ExprKind::Map(m)) if !m.keys.is_empty());
    let ok = match args.len() {
        1 => keyed,
        2 => !keyed,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(
        Diagnostic::error(span, format!("{}() needs a map and a key", name.name))
            .with_label("in this call")
            .with_note(format!("usage: {signature}")),
    )
}

/// Checks that `arg` names a whole map, without a key.
fn expect_whole_map(arg: &Expr) -> Result<(), Diagnostic> {
    match &arg.kind {
        ExprKind::Map(m) if m.keys.is_empty() => Ok(()),
        _ => Err(Diagnostic::error(arg.span, "expected a whole map")
            .with_label("a map element")
            .with_note("write the map without a key: `@name`")),
    }
}

/// Sends an event naming the whole map of `args[0]`, for userspace to act on (`clear`,
/// `zero`).
fn whole_map_event(
    args: &[Expr],
    cx: &mut LowerCx,
    event: fn(u32) -> probe_compiler::EventKind,
) -> LowerResult {
    let ExprKind::Map(m) = &args[0].kind else {
        unreachable!("checked")
    };
    let map = cx.map_index(&m.name);
    let id = cx.add_event(event(map));
    cx.send_event(id, &[], 8);
    Ok(None)
}

/// The map and the key of `f(@m[key])` or `f(@m, key)`, the key built on the stack.
fn map_and_key(
    args: &[Expr],
    cx: &mut LowerCx,
) -> Result<(u32, probe_compiler::ir::Addr), Diagnostic> {
    let ExprKind::Map(m) = &args[0].kind else {
        unreachable!("checked")
    };
    if m.keys.is_empty() {
        cx.map_key(&m.name, &args[1..])
    } else {
        cx.map_key(&m.name, &m.keys)
    }
}
