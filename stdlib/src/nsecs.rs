//! `nsecs`: nanoseconds since boot (the monotonic clock, without suspend).

use crate::Variable;
use probe_compiler::lower::{helper, LowerCx, Value};
use probe_lang::types::Type;

/// The variable.
pub const NSECS: Variable = Variable {
    name: "nsecs",
    doc: "nanoseconds since boot (bpf_ktime_get_ns)",
    ty: |_| Type::U64,
    available: crate::anywhere,
    reads_context: false,
    lower,
};

fn lower(cx: &mut LowerCx) -> Value {
    Value::Scalar(cx.call(helper::KTIME_GET_NS, vec![]))
}
