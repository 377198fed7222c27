//! `cpid`: the process id of the command given with `-c`.

use crate::Variable;
use probe_compiler::lower::{LowerCx, Value};
use probe_lang::types::Type;

/// The variable.
pub const CPID: Variable = Variable {
    name: "cpid",
    doc: "process id of the command run with -c",
    ty: |_| Type::U32,
    available: crate::anywhere,
    reads_context: false,
    lower,
};

fn lower(cx: &mut LowerCx) -> Value {
    Value::Scalar(cx.session_value(probe_compiler::program::SessionValue::ChildPid))
}
