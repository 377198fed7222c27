//! `reg("name")`: a register of the probed context (kprobe, uprobe, usdt, profile,
//! software and hardware events, whose context starts with `struct pt_regs`), and
//! `usermode`: whether the probe fired in user mode.

use crate::{expect_args, Function, LowerResult, Variable};
use probe_compiler::ir::{Addr, AluOp, CmpOp, Inst, Operand, Terminator};
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::ast::ExprKind;
use probe_lang::types::Type;
use probe_lang::{AttachKind, Diagnostic, Span};

/// x86-64's `struct pt_regs`, in order: each register is 8 bytes.
const REGISTERS: [&str; 21] = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
    "orig_ax", "ip", "cs", "flags", "sp", "ss",
];

/// Whether the probe's context is the registers.
fn has_registers(kind: &AttachKind) -> Result<(), String> {
    match kind {
        AttachKind::Kprobe { .. }
        | AttachKind::Uprobe { .. }
        | AttachKind::Usdt { .. }
        | AttachKind::Profile { .. }
        | AttachKind::Interval { .. }
        | AttachKind::Software { .. }
        | AttachKind::Hardware { .. } => Ok(()),
        _ => Err("only kprobe, uprobe, usdt, profile, interval, software and hardware probes see the registers".into()),
    }
}

/// The register `name` of the context.
fn register(cx: &mut LowerCx, name: &str, span: Span) -> Result<Value, Diagnostic> {
    has_registers(cx.attach()).map_err(|why| {
        Diagnostic::error(span, "registers are not available here")
            .with_label("not in this kind of probe")
            .with_note(why)
    })?;
    let index = REGISTERS.iter().position(|r| *r == name).ok_or_else(|| {
        Diagnostic::error(span, format!("no register `{name}`"))
            .with_label("not an x86-64 register")
            .with_note(format!("registers are {}", REGISTERS.join(", ")))
    })?;
    let base = cx.ctx;
    Ok(Value::Scalar(cx.load_u64(Addr::Reg {
        base,
        off: index as i32 * 8,
    })))
}

/// The function `reg`.
pub const REG: Function = Function {
    name: "reg",
    signature: "reg(\"name\")",
    doc: "a register of the probed context, by its pt_regs name (\"ip\", \"sp\", \"di\", ...)",
    check: |name, args, span| {
        expect_args(name, args, span, 1, "reg(\"name\")")?;
        match &args[0].kind {
            ExprKind::Str(r) if REGISTERS.contains(&r.as_str()) => Ok(Type::U64),
            ExprKind::Str(r) => Err(
                Diagnostic::error(args[0].span, format!("no register `{r}`"))
                    .with_label("not an x86-64 register")
                    .with_note(format!("registers are {}", REGISTERS.join(", "))),
            ),
            _ => Err(
                Diagnostic::error(args[0].span, "reg() takes a register's name")
                    .with_label("not a string literal")
                    .with_note("usage: reg(\"ip\")"),
            ),
        }
    },
    lower: |_, args, span, cx| -> LowerResult {
        let ExprKind::Str(name) = &args[0].kind else {
            unreachable!("checked")
        };
        register(cx, name, span).map(Some)
    },
};

/// The variable `usermode`.
pub const USERMODE: Variable = Variable {
    name: "usermode",
    doc: "1 if the probe fired while the CPU ran user code (from the cs register), else 0",
    ty: |_| Type::U64,
    available: has_registers,
    reads_context: true,
    lower: |cx| {
        let base = cx.ctx;
        let cs_at = REGISTERS.iter().position(|r| *r == "cs").expect("cs") as i32 * 8;
        let cs = cx.load_u64(Addr::Reg { base, off: cs_at });
        let ring = cx.alu(AluOp::And, cs, Operand::Imm(3));
        let result = cx.copy(Operand::Imm(0));
        let user = cx.new_block();
        let done = cx.new_block();
        cx.terminate(Terminator::Branch {
            cond: CmpOp::Eq,
            lhs: ring,
            rhs: Operand::Imm(3),
            then: user,
            otherwise: done,
        });
        cx.switch_to(user);
        cx.emit(Inst::Copy {
            dst: result,
            src: Operand::Imm(1),
        });
        cx.terminate(Terminator::Jump(done));
        cx.switch_to(done);
        Value::Scalar(result)
    },
};
