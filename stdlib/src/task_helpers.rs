//! Variables that are one helper call each: `rand`, `cgroup`, `jiffies`, `numaid`.

use crate::Variable;
use probe_compiler::lower::{helper, Value};
use probe_lang::types::Type;

/// `rand`: a pseudo-random number.
pub const RAND: Variable = Variable {
    name: "rand",
    doc: "a pseudo-random 32-bit number (bpf_get_prandom_u32)",
    ty: |_| Type::U32,
    available: crate::anywhere,
    reads_context: false,
    lower: |cx| Value::Scalar(cx.call(helper::GET_PRANDOM_U32, vec![])),
};

/// `cgroup`: the current task's cgroup v2 id.
pub const CGROUP: Variable = Variable {
    name: "cgroup",
    doc: "id of the current task's cgroup (v2), as cgroupid(\"/sys/fs/cgroup/...\") gives it",
    ty: |_| Type::U64,
    available: crate::anywhere,
    reads_context: false,
    lower: |cx| Value::Scalar(cx.call(helper::GET_CURRENT_CGROUP_ID, vec![])),
};

/// `jiffies`: the kernel's tick counter.
pub const JIFFIES: Variable = Variable {
    name: "jiffies",
    doc: "the kernel's jiffies counter (bpf_jiffies64)",
    ty: |_| Type::U64,
    available: crate::anywhere,
    reads_context: false,
    lower: |cx| Value::Scalar(cx.call(helper::JIFFIES64, vec![])),
};

/// `numaid`: the NUMA node of the current CPU.
pub const NUMAID: Variable = Variable {
    name: "numaid",
    doc: "NUMA node id of the current CPU",
    ty: |_| Type::U32,
    available: crate::anywhere,
    reads_context: false,
    lower: |cx| Value::Scalar(cx.call(helper::GET_NUMA_NODE_ID, vec![])),
};
