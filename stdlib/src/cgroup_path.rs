//! `cgroup_path(id)`: a cgroup v2 id (as `cgroup` reads it), printed as the cgroup's path.

use crate::{expect_args, Function};
use probe_compiler::ir::Operand;
use probe_lang::types::{Printed, Type};
use probe_lang::Diagnostic;

/// The function.
pub const CGROUP_PATH: Function = Function {
    name: "cgroup_path",
    signature: "cgroup_path(id)",
    doc: "a cgroup v2 id printed as the cgroup's path (unified:/...), found when printed",
    check: |name, args, span| {
        expect_args(name, args, span, 1, "cgroup_path(id)")?;
        if !args[0].ty.is_scalar() {
            return Err(Diagnostic::error(
                args[0].span,
                format!("cgroup_path() takes a cgroup id, not {}", args[0].ty),
            )
            .with_label("not an integer")
            .with_note("usage: cgroup_path(cgroup)"));
        }
        Ok(Type::Printed(Printed::CgroupPath))
    },
    lower: |_, args, _, cx| {
        let id = cx.scalar(&args[0])?;
        Ok(Some(crate::printed_words(
            cx,
            Operand::Reg(id),
            Operand::Imm(0),
        )))
    },
};
