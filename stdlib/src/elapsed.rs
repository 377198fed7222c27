//! `elapsed`: nanoseconds since tracing started.

use crate::Variable;
use probe_compiler::ir::{AluOp, Operand};
use probe_compiler::lower::{helper, LowerCx, Value};
use probe_compiler::program::SessionValue;
use probe_lang::types::Type;

/// The variable.
pub const ELAPSED: Variable = Variable {
    name: "elapsed",
    doc: "nanoseconds since probe started tracing",
    ty: |_| Type::U64,
    available: crate::anywhere,
    reads_context: false,
    lower,
};

fn lower(cx: &mut LowerCx) -> Value {
    let start = cx.session_value(SessionValue::StartNsecs);
    let now = cx.call(helper::KTIME_GET_NS, vec![]);
    Value::Scalar(cx.alu(AluOp::Sub, now, Operand::Reg(start)))
}
