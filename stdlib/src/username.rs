//! `username`: the current task's user, printed as its name.

use crate::Variable;
use probe_compiler::ir::{AluOp, Operand};
use probe_compiler::lower::helper;
use probe_lang::types::{Printed, Type};

/// The variable.
pub const USERNAME: Variable = Variable {
    name: "username",
    doc: "the current task's user, printed as its name (from the password database)",
    ty: |_| Type::Printed(Printed::UserName),
    available: crate::anywhere,
    reads_context: false,
    lower: |cx| {
        let both = cx.call(helper::GET_CURRENT_UID_GID, vec![]);
        let uid = cx.alu(AluOp::And, both, Operand::Imm(0xffff_ffff));
        crate::printed_words(cx, Operand::Reg(uid), Operand::Imm(0))
    },
};
