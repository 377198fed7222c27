//! `strlen(s)`: the length of a string, up to its NUL.

use crate::{expect_args, CheckResult, Function, LowerResult};
use probe_compiler::ir::{Inst, MemSize, Operand, Terminator};
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::Type;
use probe_lang::Span;

const SIGNATURE: &str = "strlen(str)";

/// The function.
pub const STRLEN: Function = Function {
    name: "strlen",
    signature: SIGNATURE,
    doc: "the number of bytes of a string before its NUL",
    check,
    lower,
};

fn check(name: &Ident, args: &[Expr], span: Span) -> CheckResult {
    expect_args(name, args, span, 1, SIGNATURE)?;
    crate::expect_string(name, &args[0], SIGNATURE)?;
    Ok(Type::U64)
}

fn lower(_: &Ident, args: &[Expr], _: Span, cx: &mut LowerCx) -> LowerResult {
    let Value::Mem { addr, len } = cx.expr(&args[0])? else {
        unreachable!("strings live in memory")
    };
    let length = cx.copy(Operand::Imm(i64::from(len)));
    let done = cx.new_block();
    for i in 0..len {
        let byte = cx.vreg();
        cx.emit(Inst::Load {
            dst: byte,
            addr: addr.offset(i as i32),
            size: MemSize::B,
            signed: false,
        });
        let found = cx.new_block();
        let next = cx.new_block();
        cx.branch_if_zero(byte, found, next);
        cx.switch_to(found);
        cx.emit(Inst::Copy {
            dst: length,
            src: Operand::Imm(i64::from(i)),
        });
        cx.terminate(Terminator::Jump(done));
        cx.switch_to(next);
    }
    cx.terminate(Terminator::Jump(done));
    cx.switch_to(done);
    Ok(Some(Value::Scalar(length)))
}
