//! Numbers printed as names by userspace: `signal_name(sig)` ("SIGKILL") and
//! `syscall_name(nr)` ("read").

use crate::{expect_args, CheckResult, Function};
use probe_compiler::ir::Operand;
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::{Printed, Type};
use probe_lang::{Diagnostic, Span};

fn check(name: &Ident, args: &[Expr], span: Span, printed: Printed) -> CheckResult {
    let signature = format!("{}(n)", name.name);
    expect_args(name, args, span, 1, &signature)?;
    if !args[0].ty.is_scalar() {
        return Err(Diagnostic::error(
            args[0].span,
            format!("{}() takes a number, not {}", name.name, args[0].ty),
        )
        .with_label("not an integer")
        .with_note(format!("usage: {signature}")));
    }
    Ok(Type::Printed(printed))
}

fn lower(args: &[Expr], cx: &mut probe_compiler::lower::LowerCx) -> crate::LowerResult {
    let n = cx.scalar(&args[0])?;
    Ok(Some(crate::printed_words(
        cx,
        Operand::Reg(n),
        Operand::Imm(0),
    )))
}

/// The function `signal_name`.
pub const SIGNAL_NAME: Function = Function {
    name: "signal_name",
    signature: "signal_name(sig)",
    doc: "a signal number printed as its name (\"SIGKILL\")",
    check: |name, args, span| check(name, args, span, Printed::SignalName),
    lower: |_, args, _, cx| lower(args, cx),
};

/// The function `syscall_name`.
pub const SYSCALL_NAME: Function = Function {
    name: "syscall_name",
    signature: "syscall_name(nr)",
    doc: "an x86-64 system call number printed as its name (\"read\")",
    check: |name, args, span| check(name, args, span, Printed::SyscallName),
    lower: |_, args, _, cx| lower(args, cx),
};
