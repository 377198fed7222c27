//! `strerror(errno)`: an error number, printed as its message.

use crate::{expect_args, Function};
use probe_compiler::ir::Operand;
use probe_lang::types::{Printed, Type};
use probe_lang::Diagnostic;

/// The function.
pub const STRERROR: Function = Function {
    name: "strerror",
    signature: "strerror(errno)",
    doc: "an error number, printed as its message (\"No such file or directory\")",
    check: |name, args, span| {
        expect_args(name, args, span, 1, "strerror(errno)")?;
        if !args[0].ty.is_scalar() {
            return Err(Diagnostic::error(
                args[0].span,
                format!("strerror() takes an error number, not {}", args[0].ty),
            )
            .with_label("not an integer"));
        }
        Ok(Type::Printed(Printed::Errno))
    },
    lower: |_, args, _, cx| {
        let errno = cx.scalar(&args[0])?;
        Ok(Some(crate::printed_words(
            cx,
            Operand::Reg(errno),
            Operand::Imm(0),
        )))
    },
};
