//! `join(array[, separator])`: prints the strings of a NULL-terminated array of string
//! pointers in user memory (`args.argv` of execve), joined on one line.

use crate::{CheckResult, Function, LowerResult};
use probe_compiler::ir::{Addr, AluOp, Inst, MemSize, Operand, Terminator};
use probe_compiler::lower::{helper, LowerCx};
use probe_compiler::EventKind;
use probe_lang::ast::{Expr, ExprKind, Ident};
use probe_lang::types::Type;
use probe_lang::{Diagnostic, Span};

const SIGNATURE: &str = "join(array[, \"separator\"])";

/// How many strings are read at most.
const MAX_ELEMENTS: u32 = 16;

/// The function.
pub const JOIN: Function = Function {
    name: "join",
    signature: SIGNATURE,
    doc: "prints up to 16 strings of a NULL-terminated char *[] in user memory, joined by a separator (default \" \")",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    if args.is_empty() || args.len() > 2 {
        return crate::expect_args(name, args, span, 1, SIGNATURE).map(|()| Type::Void);
    }
    if !args[0].ty.is_scalar() {
        return Err(Diagnostic::error(
            args[0].span,
            format!("join() takes the address of an array, not {}", args[0].ty),
        )
        .with_label("not an address")
        .with_note(format!("usage: {SIGNATURE}")));
    }
    if let Some(sep) = args.get(1) {
        if !matches!(sep.kind, ExprKind::Str(_)) {
            return Err(
                Diagnostic::error(sep.span, "join()'s separator must be a string literal")
                    .with_label("not a string literal")
                    .with_note(format!("usage: {SIGNATURE}")),
            );
        }
    }
    Ok(Type::Void)
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    let array = cx.scalar(&args[0])?;
    let separator = match args.get(1).map(|a| &a.kind) {
        Some(ExprKind::Str(s)) => s.clone(),
        _ => " ".to_string(),
    };
    let len = crate::str::MAX_STRLEN;
    let id = cx.add_event(EventKind::Join { separator, len });
    let pointer = cx.zeroed_slot(8);
    cx.send_event_filled(id, 16 + MAX_ELEMENTS * len, |cx, rec| {
        let count = cx.copy(Operand::Imm(0));
        let done = cx.new_block();
        for i in 0..MAX_ELEMENTS {
            let dst = cx.stack_addr(pointer, 0);
            let src = cx.alu(AluOp::Add, array, Operand::Imm(i64::from(i) * 8));
            cx.call(
                helper::PROBE_READ_USER,
                vec![Operand::Reg(dst), Operand::Imm(8), Operand::Reg(src)],
            );
            let string = cx.load_u64(Addr::Stack {
                slot: pointer,
                off: 0,
            });
            let read = cx.new_block();
            cx.branch_if_zero(string, done, read);
            cx.switch_to(read);
            let at = cx.alu(
                AluOp::Add,
                rec,
                Operand::Imm(16 + i64::from(i) * i64::from(len)),
            );
            cx.call(
                helper::PROBE_READ_USER_STR,
                vec![
                    Operand::Reg(at),
                    Operand::Imm(i64::from(len)),
                    Operand::Reg(string),
                ],
            );
            cx.emit(Inst::Copy {
                dst: count,
                src: Operand::Imm(i64::from(i) + 1),
            });
        }
        cx.terminate(Terminator::Jump(done));
        cx.switch_to(done);
        cx.emit(Inst::Store {
            addr: Addr::Reg { base: rec, off: 8 },
            src: Operand::Reg(count),
            size: MemSize::DW,
        });
    });
    Ok(None)
}
