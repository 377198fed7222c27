//! `arg0` ... `arg9`, the arguments of the probed function or raw tracepoint, and `retval`,
//! the value a function returns. Where they live depends on the probe: a raw tracepoint's
//! context is an array of 64-bit arguments, a kprobe's the registers (`struct pt_regs`).

use crate::Variable;
use probe_compiler::ir::{Addr, AluOp, Operand};
use probe_compiler::lower::helper;
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::symbols::UsdtArg;
use probe_lang::types::Type;
use probe_lang::AttachKind;

/// Offsets in x86-64's `struct pt_regs` of the registers that carry the first six
/// arguments (rdi, rsi, rdx, rcx, r8, r9) and the return value (rax).
const PT_REGS_ARGS: [i32; 6] = [112, 104, 96, 88, 72, 64];
const PT_REGS_RAX: i32 = 80;

fn arg_available(kind: &AttachKind, n: usize) -> Result<(), String> {
    match kind {
        AttachKind::RawTracepoint { .. } => Ok(()),
        AttachKind::Usdt { probe: Some(p), .. } if n < p.args.len() => Ok(()),
        AttachKind::Usdt { probe: Some(p), .. } => Err(format!(
            "the USDT probe {}:{} has {} argument(s)",
            p.provider,
            p.name,
            p.args.len()
        )),
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
        _ => Err("only kprobe, uprobe, usdt and rawtracepoint probes have arguments".into()),
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

/// A USDT argument's type: 64 bits, signed as its note says.
fn arg_type(kind: &AttachKind, n: usize) -> Type {
    match kind {
        AttachKind::Usdt { probe: Some(p), .. } => match p.args.get(n) {
            Some(UsdtArg::Register { signed: true, .. } | UsdtArg::Memory { signed: true, .. })
            | Some(UsdtArg::Constant(_)) => Type::I64,
            _ => Type::U64,
        },
        _ => Type::U64,
    }
}

/// A USDT argument, where its note says it is.
fn usdt_arg(cx: &mut LowerCx, arg: &UsdtArg) -> Value {
    let base = cx.ctx;
    let register = |cx: &mut LowerCx, regs_offset: u32| {
        cx.load_u64(Addr::Reg {
            base,
            off: regs_offset as i32,
        })
    };
    let (value, size, signed) = match *arg {
        UsdtArg::Constant(v) => return Value::Scalar(cx.copy(Operand::Imm(v))),
        UsdtArg::Register {
            regs_offset,
            size,
            signed,
        } => (register(cx, regs_offset), size, signed),
        UsdtArg::Memory {
            regs_offset,
            displacement,
            size,
            signed,
        } => {
            let reg = register(cx, regs_offset);
            let at = cx.alu(AluOp::Add, reg, Operand::Imm(displacement));
            let slot = cx.zeroed_slot(8);
            let buf = cx.stack_addr(slot, 0);
            cx.call(
                helper::PROBE_READ_USER,
                vec![
                    Operand::Reg(buf),
                    Operand::Imm(i64::from(size)),
                    Operand::Reg(at),
                ],
            );
            (cx.load_u64(Addr::Stack { slot, off: 0 }), size, signed)
        }
    };
    Value::Scalar(cx.truncate(value, size * 8, signed))
}

fn lower_arg(cx: &mut LowerCx, n: usize) -> Value {
    if let AttachKind::Usdt { probe: Some(p), .. } = cx.attach() {
        let arg = p.args[n].clone();
        return usdt_arg(cx, &arg);
    }
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
                ty: |kind| arg_type(kind, $n),
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
