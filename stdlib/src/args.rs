//! `arg0` ... `arg9`, the arguments of the probed function or raw tracepoint, and `retval`,
//! the value a function returns. Where they live depends on the probe: a raw tracepoint's
//! context is an array of 64-bit arguments, a kprobe's the registers (`struct pt_regs`).

use crate::Variable;
use probe_compiler::ir::Addr;
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::types::Type;
use probe_lang::AttachKind;

/// Offsets in x86-64's `struct pt_regs` of the registers that carry the first six
/// arguments (rdi, rsi, rdx, rcx, r8, r9) and the return value (rax).
const PT_REGS_ARGS: [i32; 6] = [112, 104, 96, 88, 72, 64];
const PT_REGS_RAX: i32 = 80;

fn arg_available(kind: &AttachKind, n: usize) -> Result<(), String> {
    match kind {
        AttachKind::RawTracepoint { .. } => Ok(()),
        AttachKind::Fentry { nargs, .. } if n < *nargs as usize => Ok(()),
        AttachKind::Fentry {
            function, nargs, ..
        } => Err(format!(
            "`{function}` takes {nargs} argument(s); `args` names them (probe reads them from BTF)"
        )),
        AttachKind::Kprobe { ret: false, .. } | AttachKind::Uprobe { ret: false, .. }
            if n < PT_REGS_ARGS.len() =>
        {
            Ok(())
        }
        AttachKind::Kprobe { ret: false, .. } | AttachKind::Uprobe { ret: false, .. } => {
            Err(format!(
                "only the first {} arguments arrive in registers",
                PT_REGS_ARGS.len()
            ))
        }
        AttachKind::Kprobe { ret: true, .. } | AttachKind::Uprobe { ret: true, .. } => {
            Err("a return probe sees what the function returned: use `retval`".into())
        }
        AttachKind::Tracepoint { .. } => {
            Err("a tracepoint's arguments are the fields of `args` (probe -lv lists them)".into())
        }
        _ => Err("only kprobe, uprobe and rawtracepoint probes have arguments".into()),
    }
}

fn retval_available(kind: &AttachKind) -> Result<(), String> {
    match kind {
        AttachKind::Kprobe { ret: true, .. }
        | AttachKind::Uprobe { ret: true, .. }
        | AttachKind::Fentry { ret: true, .. } => Ok(()),
        _ => Err("only return probes (kretprobe, uretprobe, fexit) have `retval`".into()),
    }
}

/// Loads the 64-bit value at `off` in the context.
fn context_u64(cx: &mut LowerCx, off: i32) -> Value {
    let base = cx.ctx;
    Value::Scalar(cx.load_u64(Addr::Reg { base, off }))
}

fn lower_arg(cx: &mut LowerCx, n: usize) -> Value {
    let off = match cx.attach() {
        AttachKind::Kprobe { .. } | AttachKind::Uprobe { .. } => PT_REGS_ARGS[n],
        _ => 8 * n as i32,
    };
    context_u64(cx, off)
}

macro_rules! args {
    ($($konst:ident $name:literal $n:literal),*) => {
        $(
            #[doc = concat!("The variable `", $name, "`.")]
            pub const $konst: Variable = Variable {
                name: $name,
                doc: concat!("argument ", $n, " of the probed function or raw tracepoint, as uint64"),
                ty: |_| Type::U64,
                available: |kind| arg_available(kind, $n),
                reads_context: true,
                lower: |cx| lower_arg(cx, $n),
            };
        )*
    };
}

args!(ARG0 "arg0" 0, ARG1 "arg1" 1, ARG2 "arg2" 2, ARG3 "arg3" 3, ARG4 "arg4" 4,
      ARG5 "arg5" 5, ARG6 "arg6" 6, ARG7 "arg7" 7, ARG8 "arg8" 8, ARG9 "arg9" 9);

/// The variable `retval`.
pub const RETVAL: Variable = Variable {
    name: "retval",
    doc: "the value the probed function returned (return probes), as uint64",
    ty: |_| Type::U64,
    available: retval_available,
    reads_context: true,
    lower: |cx| {
        // fexit's context holds the arguments, then the return value.
        let off = match cx.attach() {
            AttachKind::Fentry { nargs, .. } => 8 * *nargs as i32,
            _ => PT_REGS_RAX,
        };
        context_u64(cx, off)
    },
};
