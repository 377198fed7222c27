//! The local verifier: an abstract interpreter that checks a program against the kernel
//! verifier's rules before the kernel sees it, and reports what it rejects with the kernel's
//! wording.
//!
//! It runs in the kernel's order:
//! 1. jump ranges and the last instruction (`jump out of range from insn 3 to 40`,
//!    `last insn is not an exit or jmp`);
//! 2. each instruction on its own: register numbers, `lddw` pairs and map references, known
//!    opcodes, reserved fields, constant divisors and shift amounts;
//! 3. the control-flow graph: every instruction reachable, no jump into the middle of an
//!    `lddw`;
//! 4. every path from the entry, one abstract [`RegState`] per register plus a model of the
//!    512-byte stack, depth first: both sides of a conditional jump are explored unless the
//!    operands are known constants (as the kernel does, so loops with constant bounds are
//!    unrolled), and a state that an earlier state at the same instruction covers is pruned
//!    (registers no path reads any more are forgotten first, by a static liveness pass).
//!    Returning to a state identical to one of its own ancestors, when every value in it is
//!    known, is an infinite loop. At a `may_goto`, scalars that changed since the previous
//!    iteration are widened to unknown so that such loops converge. More than
//!    [`COMPLEXITY_LIMIT_INSNS`] processed instructions is `BPF program is too large`.
//!
//! It models the privileged (root) rules, which is how `probe` runs. Where the kernel is
//! stricter than the ISA it follows the kernel: a division or modulo by a constant zero is
//! `div by zero` (by a register holding zero it is allowed, the result is defined), and
//! stack accesses must be aligned to their size (`misaligned stack access off 0+0+-7 size 8`).
//!
//! # Messages
//!
//! Checked against Linux 6.18 (see the ignored `kernel_agrees` test):
//! `R3 !read_ok`, `frame pointer is read only`, `invalid write to stack R10 off=-520 size=8`,
//! `invalid read from stack R1 off=-528 size=8`, `misaligned stack access off 0+-8+-4 size 8`,
//! `invalid read from stack off -8+0 size 8`, `invalid size of register spill`/`fill`,
//! `jump out of range from insn 1 to 42`, `jump into the middle of ldimm64 insn 2`,
//! `unreachable insn 2`, `last insn is not an exit or jmp`, `unknown opcode ff`,
//! `BPF_ALU uses reserved fields` (and `BPF_MOV`, `BPF_NEG`, `BPF_END`, `BPF_LDX`,
//! `BPF_STX`, `BPF_ST`, `BPF_CALL`, `BPF_JA`, `BPF_EXIT`, `BPF_JMP/JMP32`),
//! `BPF_ATOMIC uses invalid atomic opcode 10`, `invalid atomic operand size`,
//! `invalid bpf_ld_imm64 insn`, `fd 3 is not pointing to valid bpf_map`, `R11 is invalid`,
//! `div by zero`, `invalid shift 64`, `invalid func unknown#212`,
//! `invalid bpf_context access off=168 size=8`, `BPF_ATOMIC stores into R1 ctx is not
//! allowed`, `dereference of modified ctx ptr R1 off=8 disallowed`,
//! `R1 bitwise operator &= on pointer prohibited` (and the other pointer-arithmetic
//! messages), `infinite loop detected at insn 2`,
//! `BPF program is too large. Processed 1000001 insn`. A map index stands where the kernel
//! has a file descriptor. The kernel prints no message for an empty program (it answers
//! E2BIG); this verifier says `program has no instructions`.
//!
//! # Not modelled yet (simplifications)
//!
//! - Scalars are either a known 64-bit constant or unknown: no ranges, no tnums. A jump on an
//!   unknown scalar explores both sides; `==`/`!=` against a constant refines the equal side.
//! - Helper calls: the id must name a kernel helper, r1-r5 become uninitialised and r0 an
//!   unknown scalar. Arguments are not checked against prototypes, and a map lookup returns a
//!   plain scalar rather than a map-value-or-null pointer. As a stopgap, helpers that write a
//!   buffer given as (r1 = stack pointer, r2 = known size), such as `bpf_probe_read_kernel`
//!   and `bpf_get_current_comm`, mark those stack bytes initialised.
//! - Because map values are not typed yet, loads and stores through a scalar are not checked
//!   (the kernel answers `R1 invalid mem access 'scalar'`). Loads through a map reference
//!   (`struct bpf_map` fields) are not checked either.
//! - Pointer arithmetic: adding or subtracting a known constant keeps a stack or context
//!   pointer's offset; the operations the kernel prohibits are rejected with its message;
//!   everything else (a pointer plus an unknown scalar, pointer minus pointer, a 32-bit
//!   subtraction, negation...) yields an unknown scalar.
//! - Context accesses are checked against [`VerifyEnv::ctx_size`], must be naturally aligned
//!   and may only read (as for kprobe, tracepoint and raw tracepoint contexts); no
//!   per-field rules.
//! - Reads of uninitialised stack bytes are rejected unless [`VerifyEnv::allow_uninit_stack`]
//!   is set. The kernel lets root read them (6.18 does); `probe` is stricter by default
//!   because an unwritten byte in a map key is a bug.
//! - Not supported: bpf-to-bpf calls, kfunc calls, `lddw` forms other than a plain constant
//!   and a map reference, arenas, packet access, `BPF_LD_[ABS|IND]`.

use std::fmt;

use super::disasm::{helper_name, HELPER_COUNT};
use super::insn::{
    alu, class, jmp, mode, size, source, Insn, ATOMIC_CMPXCHG, ATOMIC_FETCH, ATOMIC_LOAD_ACQ,
    ATOMIC_STORE_REL, ATOMIC_XCHG, PSEUDO_CALL, PSEUDO_FUNC, PSEUDO_KFUNC_CALL, PSEUDO_MAP_FD, R10,
};

/// The size of the BPF stack in bytes; the frame pointer r10 points just past its end.
pub const MAX_BPF_STACK: i64 = 512;

/// The kernel's cap on processed instructions (`BPF_COMPLEXITY_LIMIT_INSNS`).
pub const COMPLEXITY_LIMIT_INSNS: usize = 1_000_000;

/// At most this many states are remembered per instruction for pruning; finished states
/// that rarely prune are evicted first, as the kernel does.
pub const MAX_STATES_PER_INSN: usize = 64;

/// Number of registers, r0 to r10.
const NUM_REGS: usize = 11;
/// Number of 8-byte slots in the stack.
const STACK_SLOTS: usize = (MAX_BPF_STACK / 8) as usize;

/// `BPF_JCOND`: the `may_goto` jump.
const JCOND: u8 = 0xe0;
/// `BPF_ABS` load mode.
const MODE_ABS: u8 = 0x20;
/// `BPF_IND` load mode.
const MODE_IND: u8 = 0x40;

/// Helpers whose first argument is a buffer they fill and whose second is its size.
const BUFFER_WRITING_HELPERS: [i32; 7] = [
    4,   // bpf_probe_read
    16,  // bpf_get_current_comm
    45,  // bpf_probe_read_str
    112, // bpf_probe_read_user
    113, // bpf_probe_read_kernel
    114, // bpf_probe_read_user_str
    115, // bpf_probe_read_kernel_str
];

/// What the verifier knows about the program's surroundings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VerifyEnv {
    /// Size in bytes of the context r1 points to at entry (168 for a kprobe's `pt_regs` on
    /// x86-64); reads past it are rejected.
    pub ctx_size: u32,
    /// Number of maps in the object's map table; a map reference `lddw` must name an index
    /// below it.
    pub map_count: u32,
    /// Allow reading stack bytes that were never written (they read as unknown scalars), as
    /// the kernel allows root. Off by default: `probe` rejects such reads.
    pub allow_uninit_stack: bool,
    /// The code is a callback of `bpf_for_each_map_elem`: r1-r4 hold the map, the key, the
    /// value and the callback context at entry, and it must return 0 or 1.
    pub callback: bool,
}

impl VerifyEnv {
    /// An environment with the given context size and map count, rejecting reads of
    /// uninitialised stack.
    pub fn new(ctx_size: u32, map_count: u32) -> VerifyEnv {
        VerifyEnv {
            ctx_size,
            map_count,
            allow_uninit_stack: false,
            callback: false,
        }
    }

    /// The environment of a `bpf_for_each_map_elem` callback.
    pub fn callback(map_count: u32) -> VerifyEnv {
        VerifyEnv {
            callback: true,
            ..VerifyEnv::new(0, map_count)
        }
    }
}

/// Why a program was rejected: the kernel-style message and the instruction it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// Index of the offending instruction (an `lddw` counts as two).
    pub insn: usize,
    /// The message, in the kernel verifier's words where it has some.
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at insn {}", self.message, self.insn)
    }
}

impl std::error::Error for VerifyError {}

/// Figures about an accepted program's verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VerifyStats {
    /// Instructions processed over all explored paths (the kernel's `processed N insns`).
    pub processed: usize,
    /// States remembered for pruning.
    pub total_states: usize,
}

/// What is known about a scalar: for now a known 64-bit constant or nothing. Later this
/// becomes signed/unsigned ranges and known bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScalarValue(Option<u64>);

impl ScalarValue {
    /// A scalar about which nothing is known.
    pub const UNKNOWN: ScalarValue = ScalarValue(None);

    /// A scalar known to equal `v`.
    pub fn known(v: u64) -> ScalarValue {
        ScalarValue(Some(v))
    }

    /// The constant, if known.
    pub fn value(self) -> Option<u64> {
        self.0
    }

    /// True if every value `other` may take, `self` may take too.
    pub fn covers(self, other: ScalarValue) -> bool {
        self.0.is_none() || self == other
    }
}

/// The abstract value of a register (or of a register spilled to the stack).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegState {
    /// Never written on this path: reading it is an error.
    Uninit,
    /// A number (never a pointer the program may dereference as such).
    Scalar(ScalarValue),
    /// The program's context (r1 at entry), `off` bytes in.
    PtrToCtx {
        /// Known constant offset from the start of the context.
        off: i64,
    },
    /// A pointer into the stack, at a known constant offset from the frame pointer (so
    /// `off` is in `-512..=0` when it is valid to use).
    PtrToStack {
        /// Offset from r10.
        off: i64,
    },
    /// A map reference loaded by `lddw` with `src == PSEUDO_MAP_FD`.
    PtrToMap {
        /// The map's index in the object's map table.
        map: u32,
    },
}

impl RegState {
    /// A scalar about which nothing is known.
    pub const UNKNOWN: RegState = RegState::Scalar(ScalarValue::UNKNOWN);

    /// A scalar known to equal `v`.
    pub fn known(v: u64) -> RegState {
        RegState::Scalar(ScalarValue::known(v))
    }

    /// True for the pointer kinds.
    pub fn is_pointer(&self) -> bool {
        matches!(
            self,
            RegState::PtrToCtx { .. } | RegState::PtrToStack { .. } | RegState::PtrToMap { .. }
        )
    }

    /// The constant, for a known scalar.
    pub fn constant(&self) -> Option<u64> {
        match self {
            RegState::Scalar(s) => s.value(),
            _ => None,
        }
    }

    /// True if a path that succeeded from `self` proves that `other` succeeds too: an
    /// uninitialised register covers anything (it was never read), an unknown scalar covers
    /// every scalar, anything else covers only itself.
    pub fn covers(&self, other: &RegState) -> bool {
        match (self, other) {
            (RegState::Uninit, _) => true,
            (RegState::Scalar(a), RegState::Scalar(b)) => a.covers(*b),
            (a, b) => a == b,
        }
    }

    /// The same pointer moved by `delta` bytes (a map reference only moves by 0).
    fn offset_by(self, delta: i64) -> RegState {
        match self {
            RegState::PtrToCtx { off } => RegState::PtrToCtx {
                off: off.wrapping_add(delta),
            },
            RegState::PtrToStack { off } => RegState::PtrToStack {
                off: off.wrapping_add(delta),
            },
            other => other,
        }
    }
}

/// The stack: which bytes were written, and which 8-byte slots hold a whole spilled
/// register (so that a pointer or a constant survives a spill and a fill).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct StackState {
    /// One bit per byte, byte `b` being at offset `b - 512` from r10.
    init: [u64; STACK_SLOTS / 8],
    /// Slot `s` covers offsets `-512 + 8s .. -512 + 8s + 8`. `None`: plain bytes (or
    /// nothing); `Some`: a register spilled by an aligned 8-byte store.
    spills: [Option<RegState>; STACK_SLOTS],
}

impl StackState {
    /// An empty, unwritten stack.
    fn new() -> StackState {
        StackState {
            init: [0; STACK_SLOTS / 8],
            spills: [None; STACK_SLOTS],
        }
    }

    /// Whether byte `b` (0-based from the bottom of the stack) was written.
    fn is_init(&self, b: usize) -> bool {
        self.init[b / 64] & (1 << (b % 64)) != 0
    }

    /// The byte index of offset `off` from r10 (which must be in range).
    fn byte(off: i64) -> usize {
        (off + MAX_BPF_STACK) as usize
    }

    /// Marks bytes `b..b + len` written, and forgets spills they overwrite partially.
    fn write_bytes(&mut self, b: usize, len: usize) {
        for i in b..b + len {
            self.init[i / 64] |= 1 << (i % 64);
            self.spills[i / 8] = None;
        }
    }

    /// A read of `size` bytes at `off` (in range and aligned), sign-extending if `sx`.
    fn read(
        &self,
        off: i64,
        size: usize,
        sx: bool,
        allow_uninit: bool,
    ) -> Result<RegState, String> {
        let b = Self::byte(off);
        match self.spills[b / 8] {
            Some(spilled) if size == 8 => return Ok(spilled),
            Some(RegState::Scalar(v)) => {
                return Ok(match v.value() {
                    Some(k) => RegState::known(extend(k >> ((b % 8) * 8), size, sx)),
                    None => RegState::UNKNOWN,
                });
            }
            Some(_) => return Err("invalid size of register fill".to_string()),
            None => {}
        }
        if !allow_uninit {
            if let Some(i) = (0..size).find(|&i| !self.is_init(b + i)) {
                return Err(format!("invalid read from stack off {off}+{i} size {size}"));
            }
        }
        Ok(RegState::UNKNOWN)
    }

    /// A write of `size` bytes at `off` (in range and aligned) of `value` (`None`: bytes of
    /// unknown provenance, as an atomic operation leaves them).
    fn write(&mut self, off: i64, size: usize, value: Option<RegState>) -> Result<(), String> {
        if value.is_some_and(|v| v.is_pointer()) && size != 8 {
            return Err("invalid size of register spill".to_string());
        }
        let b = Self::byte(off);
        self.write_bytes(b, size);
        if size == 8 {
            self.spills[b / 8] = value.filter(|v| *v != RegState::UNKNOWN);
        }
        Ok(())
    }

    /// True if a path that succeeded from a state with stack `self` proves that the same
    /// path succeeds with stack `other` (see [`RegState::covers`]).
    fn covers(&self, other: &StackState, allow_uninit: bool) -> bool {
        if !allow_uninit && self.init.iter().zip(&other.init).any(|(a, b)| a & !b != 0) {
            return false;
        }
        (0..STACK_SLOTS).all(|s| match (self.spills[s], other.spills[s]) {
            (Some(a), Some(b)) => a.covers(&b),
            (Some(a), None) => a == RegState::UNKNOWN,
            (None, Some(RegState::Scalar(_))) | (None, None) => true,
            (None, Some(_)) => !allow_uninit && (0..8).all(|i| !self.is_init(s * 8 + i)),
        })
    }

    /// True if nothing on the stack is unknown: written bytes all belong to spilled
    /// pointers or known constants.
    fn is_exact(&self) -> bool {
        (0..STACK_SLOTS).all(|s| match self.spills[s] {
            Some(v) => v != RegState::UNKNOWN,
            None => (0..8).all(|i| !self.is_init(s * 8 + i)),
        })
    }
}

/// The abstract machine state on one path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    /// r0 to r10.
    regs: [RegState; NUM_REGS],
    /// The 512-byte frame.
    stack: StackState,
}

impl State {
    /// The state at program entry: r1 is the context (for a callback, r1-r4 are its
    /// arguments), r10 the frame pointer.
    fn entry(callback: bool) -> State {
        let mut regs = [RegState::Uninit; NUM_REGS];
        if callback {
            // The map, key and value pointers are not modelled: accesses through them are
            // the kernel's to check, as for map values.
            regs[1..=4].fill(RegState::UNKNOWN);
        } else {
            regs[1] = RegState::PtrToCtx { off: 0 };
        }
        regs[usize::from(R10)] = RegState::PtrToStack { off: 0 };
        State {
            regs,
            stack: StackState::new(),
        }
    }

    /// Marks the registers outside `live` uninitialised: no path reads them before writing
    /// them, so their values cannot matter, and forgetting them lets more states match.
    fn forget_dead(&mut self, live: u16) {
        for (r, reg) in self.regs.iter_mut().enumerate().take(usize::from(R10)) {
            if live & (1 << r) == 0 {
                *reg = RegState::Uninit;
            }
        }
    }

    /// True if a path that succeeded from `self` proves that it succeeds from `other`.
    fn covers(&self, other: &State, allow_uninit: bool) -> bool {
        self.regs.iter().zip(&other.regs).all(|(a, b)| a.covers(b))
            && self.stack.covers(&other.stack, allow_uninit)
    }

    /// Widening for loops bounded by `may_goto`: if `self` has the shape of `old` (the same
    /// pointers and initialised bytes, scalars aside), scalars that differ become unknown, so
    /// that the next iteration is covered by this one. Returns whether it applied.
    fn widen_from(&mut self, old: &State) -> bool {
        let same_shape = |a: &RegState, b: &RegState| {
            matches!((a, b), (RegState::Scalar(_), RegState::Scalar(_))) || a == b
        };
        let spill_shape = |a: &Option<RegState>, b: &Option<RegState>| match (a, b) {
            (Some(a), Some(b)) => same_shape(a, b),
            (None, None) => true,
            _ => false,
        };
        let matches = self
            .regs
            .iter()
            .zip(&old.regs)
            .all(|(a, b)| same_shape(a, b))
            && self.stack.init == old.stack.init
            && (self.stack.spills.iter())
                .zip(&old.stack.spills)
                .all(|(a, b)| spill_shape(a, b));
        if !matches {
            return false;
        }
        for (reg, old) in self.regs.iter_mut().zip(&old.regs) {
            if reg != old {
                *reg = RegState::UNKNOWN;
            }
        }
        for (slot, old) in self.stack.spills.iter_mut().zip(&old.stack.spills) {
            if slot != old {
                *slot = None;
            }
        }
        true
    }

    /// True if the state stands for a single concrete machine state, so that reaching it
    /// again from itself can only be an infinite loop.
    fn is_exact(&self) -> bool {
        self.regs.iter().all(|r| *r != RegState::UNKNOWN) && self.stack.is_exact()
    }
}

/// Checks `insns` against the kernel verifier's rules (the privileged ones), as described
/// in the module documentation.
pub fn verify(insns: &[Insn], env: &VerifyEnv) -> Result<VerifyStats, VerifyError> {
    if insns.is_empty() {
        return Err(error(0, "program has no instructions"));
    }
    check_jumps(insns)?;
    check_insns(insns, env)?;
    let cfg = check_cfg(insns)?;
    Walker {
        insns,
        env,
        cfg,
        visited: (0..insns.len()).map(|_| Vec::new()).collect(),
        nodes: Vec::new(),
        processed: 0,
    }
    .run()
}

/// A [`VerifyError`] at `insn`.
fn error(insn: usize, message: impl Into<String>) -> VerifyError {
    VerifyError {
        insn,
        message: message.into(),
    }
}

/// True if `code` is an opcode of the eBPF ISA the kernel accepts (its instruction table):
/// every ALU, ALU32, JMP and JMP32 operation, byte swaps, sign-extending loads, atomics,
/// `lddw`, the legacy packet loads, `gotol` and `may_goto`.
pub fn opcode_is_known(code: u8) -> bool {
    let op = code & 0xf0;
    let is_k = code & source::X == 0;
    match code & 0x07 {
        class::ALU | class::ALU64 => match op {
            alu::NEG => is_k,
            alu::END => code & 0x07 == class::ALU || is_k,
            0xe0 | 0xf0 => false,
            _ => true,
        },
        class::JMP => match op {
            jmp::JA | jmp::CALL | jmp::EXIT | JCOND => is_k,
            0xf0 => false,
            _ => true,
        },
        class::JMP32 => match op {
            jmp::JA => is_k,
            jmp::CALL | jmp::EXIT | JCOND | 0xf0 => false,
            _ => true,
        },
        class::LD => matches!(code, 0x18 | 0x20 | 0x28 | 0x30 | 0x40 | 0x48 | 0x50),
        class::LDX => {
            code & 0xe0 == mode::MEM || (code & 0xe0 == mode::MEMSX && code & 0x18 != size::DW)
        }
        class::ST => code & 0xe0 == mode::MEM,
        _ => matches!(code & 0xe0, mode::MEM | mode::ATOMIC),
    }
}

/// True for the first slot of a 64-bit immediate load.
fn is_lddw(insn: &Insn) -> bool {
    insn.code == class::LD | mode::IMM | size::DW
}

/// Access size in bytes of a load/store opcode.
fn access_size(code: u8) -> usize {
    match code & 0x18 {
        size::W => 4,
        size::H => 2,
        size::B => 1,
        _ => 8,
    }
}

/// The low `size` bytes of `v`, zero- or sign-extended to 64 bits.
fn extend(v: u64, size: usize, sx: bool) -> u64 {
    let bits = size * 8;
    if bits >= 64 {
        return v;
    }
    let low = v & ((1u64 << bits) - 1);
    if sx {
        let shift = 64 - bits;
        (((low << shift) as i64) >> shift) as u64
    } else {
        low
    }
}

/// The instruction a jump at `pc` lands on, for JA, JMP32 JA (`gotol`), `may_goto` and
/// conditional jumps (not for calls and exit).
fn jump_target(insn: &Insn, pc: usize) -> i64 {
    let off = if insn.code == class::JMP32 | jmp::JA {
        i64::from(insn.imm)
    } else {
        i64::from(insn.off)
    };
    pc as i64 + off + 1
}

/// True for JMP/JMP32 instructions that are jumps (not call or exit).
fn is_jump(insn: &Insn) -> bool {
    matches!(insn.class(), class::JMP | class::JMP32)
        && !matches!(insn.code & 0xf0, jmp::CALL | jmp::EXIT)
}

/// Pass 1 (the kernel's `check_subprogs`): jump targets inside the program and a last
/// instruction that cannot fall off the end.
fn check_jumps(insns: &[Insn]) -> Result<(), VerifyError> {
    let n = insns.len() as i64;
    for (pc, insn) in insns.iter().enumerate() {
        if !is_jump(insn) {
            continue;
        }
        let target = jump_target(insn, pc);
        if target < 0 || target >= n {
            return Err(error(
                pc,
                format!("jump out of range from insn {pc} to {target}"),
            ));
        }
    }
    let last = insns[insns.len() - 1].code;
    if ![
        class::JMP | jmp::EXIT,
        class::JMP | jmp::JA,
        class::JMP32 | jmp::JA,
    ]
    .contains(&last)
    {
        return Err(error(insns.len() - 1, "last insn is not an exit or jmp"));
    }
    Ok(())
}

/// Pass 2 (the kernel's `check_and_resolve_insns`): each instruction on its own.
fn check_insns(insns: &[Insn], env: &VerifyEnv) -> Result<(), VerifyError> {
    let mut pc = 0;
    while pc < insns.len() {
        let insn = &insns[pc];
        for reg in [insn.dst, insn.src] {
            if usize::from(reg) >= NUM_REGS {
                return Err(error(pc, format!("R{reg} is invalid")));
            }
        }
        if is_lddw(insn) {
            check_lddw(insns, pc, env)?;
            pc += 2;
            continue;
        }
        if !opcode_is_known(insn.code) {
            return Err(error(pc, format!("unknown opcode {:02x}", insn.code)));
        }
        check_fields(insn).map_err(|m| error(pc, m))?;
        pc += 1;
    }
    Ok(())
}

/// The two halves of an `lddw` and, for a map reference, the map index.
fn check_lddw(insns: &[Insn], pc: usize, env: &VerifyEnv) -> Result<(), VerifyError> {
    let insn = &insns[pc];
    let next = match insns.get(pc + 1) {
        Some(next) if next.code == 0 && next.dst == 0 && next.src == 0 && next.off == 0 => next,
        _ => return Err(error(pc, "invalid bpf_ld_imm64 insn")),
    };
    if insn.off != 0 {
        return Err(error(pc, "BPF_LD_IMM64 uses reserved fields"));
    }
    match insn.src {
        0 => Ok(()),
        PSEUDO_MAP_FD => {
            if next.imm != 0 {
                return Err(error(pc, "unrecognized bpf_ld_imm64 insn"));
            }
            if insn.imm < 0 || insn.imm as u32 >= env.map_count {
                return Err(error(
                    pc,
                    format!("fd {} is not pointing to valid bpf_map", insn.imm),
                ));
            }
            Ok(())
        }
        PSEUDO_FUNC => {
            if next.imm != 0 {
                return Err(error(pc, "unrecognized bpf_ld_imm64 insn"));
            }
            Ok(())
        }
        2..=6 => Err(error(
            pc,
            format!(
                "bpf_ld_imm64 with src {} is not supported by the local verifier",
                insn.src
            ),
        )),
        _ => Err(error(pc, "unrecognized bpf_ld_imm64 insn")),
    }
}

/// Reserved fields, constant divisors and shifts of one (known-opcode) instruction.
fn check_fields(insn: &Insn) -> Result<(), String> {
    let op = insn.code & 0xf0;
    let is_x = insn.code & source::X != 0;
    let reserved = |what: &str| Err(format!("{what} uses reserved fields"));
    match insn.class() {
        class::ALU | class::ALU64 => {
            let is64 = insn.class() == class::ALU64;
            match op {
                alu::NEG => {
                    if insn.src != 0 || insn.off != 0 || insn.imm != 0 {
                        return reserved("BPF_NEG");
                    }
                }
                alu::END => {
                    if insn.src != 0 || insn.off != 0 || !matches!(insn.imm, 16 | 32 | 64) {
                        return reserved("BPF_END");
                    }
                }
                alu::MOV if is_x && is64 && insn.off == 1 => {
                    if insn.imm != 1 && insn.imm != 1 << 16 {
                        return Err("addr_space_cast insn can only convert between address \
                                    space 1 and 0"
                            .to_string());
                    }
                    return Err(
                        "addr_space_cast insn can only be used in a program that has \
                                an associated arena"
                            .to_string(),
                    );
                }
                alu::MOV if is_x => {
                    let offs: &[i16] = if is64 { &[0, 8, 16, 32] } else { &[0, 8, 16] };
                    if !offs.contains(&insn.off) || insn.imm != 0 {
                        return reserved("BPF_MOV");
                    }
                }
                alu::MOV => {
                    if insn.src != 0 || insn.off != 0 {
                        return reserved("BPF_MOV");
                    }
                }
                _ => {
                    let bad_off = !matches!(insn.off, 0 | 1)
                        || (insn.off == 1 && !matches!(op, alu::DIV | alu::MOD));
                    if bad_off || (is_x && insn.imm != 0) || (!is_x && insn.src != 0) {
                        return reserved("BPF_ALU");
                    }
                    if !is_x && matches!(op, alu::DIV | alu::MOD) && insn.imm == 0 {
                        return Err("div by zero".to_string());
                    }
                    let width = if is64 { 64 } else { 32 };
                    if !is_x
                        && matches!(op, alu::LSH | alu::RSH | alu::ARSH)
                        && !(0..width).contains(&insn.imm)
                    {
                        return Err(format!("invalid shift {}", insn.imm));
                    }
                }
            }
        }
        class::LDX => {
            if insn.imm != 0 {
                return reserved("BPF_LDX");
            }
        }
        class::STX if insn.code & 0xe0 == mode::ATOMIC => {
            let rmw = [alu::ADD, alu::AND, alu::OR, alu::XOR]
                .iter()
                .any(|&o| insn.imm & !ATOMIC_FETCH == i32::from(o));
            let known = rmw
                || matches!(
                    insn.imm,
                    ATOMIC_XCHG | ATOMIC_CMPXCHG | ATOMIC_LOAD_ACQ | ATOMIC_STORE_REL
                );
            if !known {
                return Err(format!(
                    "BPF_ATOMIC uses invalid atomic opcode {:02x}",
                    insn.imm
                ));
            }
            let wide = matches!(insn.code & 0x18, size::W | size::DW);
            if !wide && !matches!(insn.imm, ATOMIC_LOAD_ACQ | ATOMIC_STORE_REL) {
                return Err("invalid atomic operand size".to_string());
            }
        }
        class::STX => {
            if insn.imm != 0 {
                return reserved("BPF_STX");
            }
        }
        class::ST => {
            if insn.src != 0 {
                return reserved("BPF_ST");
            }
        }
        class::JMP | class::JMP32 => {
            let is32 = insn.class() == class::JMP32;
            match op {
                jmp::CALL => {
                    if (insn.src != PSEUDO_KFUNC_CALL && insn.off != 0)
                        || insn.src > PSEUDO_KFUNC_CALL
                        || insn.dst != 0
                    {
                        return reserved("BPF_CALL");
                    }
                    if insn.src == PSEUDO_CALL {
                        return Err(
                            "bpf-to-bpf calls are not supported by the local verifier".into()
                        );
                    }
                    if insn.src == PSEUDO_KFUNC_CALL {
                        return Err("kfunc calls are not supported by the local verifier".into());
                    }
                }
                jmp::JA => {
                    if insn.src != 0
                        || insn.dst != 0
                        || (!is32 && insn.imm != 0)
                        || (is32 && insn.off != 0)
                    {
                        return reserved("BPF_JA");
                    }
                }
                jmp::EXIT => {
                    if insn.imm != 0 || insn.src != 0 || insn.dst != 0 {
                        return reserved("BPF_EXIT");
                    }
                }
                JCOND => {
                    if insn.src != 0 || insn.dst != 0 || insn.imm != 0 {
                        return Err(format!("invalid may_goto imm {}", insn.imm));
                    }
                }
                _ => {
                    if (is_x && insn.imm != 0) || (!is_x && insn.src != 0) {
                        return reserved("BPF_JMP/JMP32");
                    }
                }
            }
        }
        _ => {
            // BPF_LD: lddw is checked separately, what is left are the packet loads.
            let m = insn.code & 0xe0;
            if insn.dst != 0 || insn.off != 0 || (m == MODE_ABS && insn.src != 0) {
                return reserved("BPF_LD_[ABS|IND]");
            }
        }
    }
    Ok(())
}

/// The instructions control may reach directly from `pc` (before values are considered),
/// and whether each is a jump target.
fn successors(insns: &[Insn], pc: usize) -> Vec<(usize, bool)> {
    let insn = &insns[pc];
    if is_lddw(insn) {
        return vec![(pc + 2, false)];
    }
    if !matches!(insn.class(), class::JMP | class::JMP32) {
        return vec![(pc + 1, false)];
    }
    let target = jump_target(insn, pc) as usize;
    match insn.code & 0xf0 {
        jmp::EXIT => vec![],
        jmp::CALL => vec![(pc + 1, false)],
        jmp::JA => vec![(target, true)],
        _ => vec![(pc + 1, true), (target, true)],
    }
}

/// What pass 3 learns about the control-flow graph.
struct Cfg {
    /// Instructions where paths meet (jump targets and the fall-through of conditional
    /// jumps): states are remembered there for pruning.
    prune: Vec<bool>,
    /// Registers live on entry to each instruction (bit `r` for `r<r>`): some path from
    /// there reads them before writing them.
    live_in: Vec<u16>,
}

/// Pass 3 (the kernel's `check_cfg`): every instruction reachable and no jump into the second
/// half of an `lddw`; then the prune points and register liveness.
fn check_cfg(insns: &[Insn]) -> Result<Cfg, VerifyError> {
    let n = insns.len();
    let mut explored = vec![false; n];
    let mut prune = vec![false; n];
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut todo = vec![0];
    explored[0] = true;
    while let Some(pc) = todo.pop() {
        for (next, is_prune_point) in successors(insns, pc) {
            if next >= n {
                // Impossible after check_jumps; be defensive rather than index out of bounds.
                return Err(error(pc, "last insn is not an exit or jmp"));
            }
            prune[next] |= is_prune_point;
            preds[next].push(pc);
            if !explored[next] {
                explored[next] = true;
                todo.push(next);
            }
        }
    }
    let mut pc = 0;
    while pc < n {
        if !explored[pc] {
            return Err(error(pc, format!("unreachable insn {pc}")));
        }
        if is_lddw(&insns[pc]) {
            if explored[pc + 1] {
                return Err(error(
                    pc,
                    format!("jump into the middle of ldimm64 insn {pc}"),
                ));
            }
            pc += 1;
        }
        pc += 1;
    }
    Ok(Cfg {
        prune,
        live_in: liveness(insns, &preds),
    })
}

/// Registers an instruction reads (as the walker reads them) and writes, as bit masks.
fn uses_and_defs(insn: &Insn) -> (u16, u16) {
    let bit = |r: u8| 1u16 << r;
    let (dst, src) = (bit(insn.dst), bit(insn.src));
    let is_x = insn.code & source::X != 0;
    match insn.class() {
        class::ALU | class::ALU64 => match insn.code & 0xf0 {
            alu::MOV if is_x => (src, dst),
            alu::MOV => (0, dst),
            alu::NEG | alu::END => (dst, dst),
            _ if is_x => (dst | src, dst),
            _ => (dst, dst),
        },
        class::LD => (0, if is_lddw(insn) { dst } else { 0 }),
        class::LDX => (src, dst),
        class::ST => (dst, 0),
        class::STX if insn.code & 0xe0 == mode::ATOMIC => match insn.imm {
            ATOMIC_LOAD_ACQ => (src, dst),
            ATOMIC_STORE_REL => (dst | src, 0),
            ATOMIC_CMPXCHG => (dst | src | bit(0), bit(0)),
            imm if imm & ATOMIC_FETCH != 0 => (dst | src, src),
            _ => (dst | src, 0),
        },
        class::STX => (dst | src, 0),
        _ => match insn.code & 0xf0 {
            jmp::EXIT => (bit(0), 0),
            // Arguments are not checked yet: only the buffer-filling helpers look at r1-r2.
            jmp::CALL if BUFFER_WRITING_HELPERS.contains(&insn.imm) => (bit(1) | bit(2), 0x3f),
            jmp::CALL => (0, 0x3f),
            jmp::JA | JCOND => (0, 0),
            _ if is_x => (dst | src, 0),
            _ => (dst, 0),
        },
    }
}

/// Registers live on entry to each instruction, by backward data flow to a fixed point.
fn liveness(insns: &[Insn], preds: &[Vec<usize>]) -> Vec<u16> {
    let n = insns.len();
    let effects: Vec<(u16, u16)> = insns.iter().map(uses_and_defs).collect();
    let mut live_out = vec![0u16; n];
    let mut live_in = vec![0u16; n];
    let mut todo: Vec<usize> = (0..n).collect();
    let mut queued = vec![true; n];
    while let Some(pc) = todo.pop() {
        queued[pc] = false;
        let (uses, defs) = effects[pc];
        let new_in = uses | (live_out[pc] & !defs);
        if new_in == live_in[pc] {
            continue;
        }
        live_in[pc] = new_in;
        for &p in &preds[pc] {
            if live_out[p] | new_in != live_out[p] {
                live_out[p] |= new_in;
                if !queued[p] {
                    queued[p] = true;
                    todo.push(p);
                }
            }
        }
    }
    live_in
}

/// One node of the exploration tree: a remembered state, linked to the remembered state
/// its path came through last.
struct Node {
    /// The previous remembered state on the same path.
    parent: Option<usize>,
    /// Paths still being explored from this state (the current one, pending branches, and
    /// live descendants). Nonzero means the state is an ancestor of the current path.
    live: u32,
}

/// A state remembered at a prune point.
struct Stored {
    /// The state.
    state: State,
    /// Its node in the exploration tree.
    node: usize,
    /// Times it pruned a later state.
    hits: u32,
    /// Times it failed to.
    misses: u32,
}

/// A path waiting to be explored.
struct Pending {
    /// Where it starts.
    pc: usize,
    /// Its state there.
    state: State,
    /// The last remembered state on it.
    node: Option<usize>,
}

/// What one instruction does to control.
enum Flow {
    /// Continue at this instruction.
    Goto(usize),
    /// Continue at `pc + 1`, and explore `target` later with `state`.
    Fork { target: usize, state: Box<State> },
    /// The path ends (`exit`).
    Exit,
}

/// What the pruning check decided.
enum Visit {
    /// An earlier state covers this one: the path ends here.
    Pruned,
    /// Carry on; the path's latest remembered state is this node.
    Continue(Option<usize>),
}

/// Pass 4: the abstract interpreter.
struct Walker<'a> {
    /// The program.
    insns: &'a [Insn],
    /// Its surroundings.
    env: &'a VerifyEnv,
    /// Prune points and liveness.
    cfg: Cfg,
    /// Remembered states per instruction.
    visited: Vec<Vec<Stored>>,
    /// The exploration tree.
    nodes: Vec<Node>,
    /// Instructions processed so far.
    processed: usize,
}

impl Walker<'_> {
    /// Explores every path, depth first.
    fn run(mut self) -> Result<VerifyStats, VerifyError> {
        let mut pending: Vec<Pending> = Vec::new();
        let mut cur = Pending {
            pc: 0,
            state: State::entry(self.env.callback),
            node: None,
        };
        loop {
            let pc = cur.pc;
            self.processed += 1;
            if self.processed > COMPLEXITY_LIMIT_INSNS {
                return Err(error(
                    pc,
                    format!(
                        "BPF program is too large. Processed {} insn",
                        self.processed
                    ),
                ));
            }
            let mut path_ends = false;
            if self.cfg.prune[pc] {
                cur.state.forget_dead(self.cfg.live_in[pc]);
                match self.visit(pc, &mut cur.state, cur.node)? {
                    Visit::Pruned => path_ends = true,
                    Visit::Continue(node) => cur.node = node,
                }
            }
            if !path_ends {
                match self.step(pc, &mut cur.state)? {
                    Flow::Goto(next) => cur.pc = next,
                    Flow::Fork { target, state } => {
                        if let Some(n) = cur.node {
                            self.nodes[n].live += 1;
                        }
                        pending.push(Pending {
                            pc: target,
                            state: *state,
                            node: cur.node,
                        });
                        cur.pc = pc + 1;
                    }
                    Flow::Exit => path_ends = true,
                }
            }
            if path_ends {
                self.release(cur.node);
                match pending.pop() {
                    Some(next) => cur = next,
                    None => break,
                }
            }
        }
        Ok(VerifyStats {
            processed: self.processed,
            total_states: self.nodes.len(),
        })
    }

    /// A path through `node` finished: it and the ancestors no path needs any more die.
    fn release(&mut self, mut node: Option<usize>) {
        while let Some(n) = node {
            self.nodes[n].live -= 1;
            if self.nodes[n].live > 0 {
                break;
            }
            node = self.nodes[n].parent;
        }
    }

    /// The pruning check at a prune point: prune if a remembered state covers `state`,
    /// report an infinite loop if the path came back to an exact copy of one of its own
    /// ancestors, else remember `state` (within [`MAX_STATES_PER_INSN`]).
    fn visit(
        &mut self,
        pc: usize,
        state: &mut State,
        node: Option<usize>,
    ) -> Result<Visit, VerifyError> {
        let allow = self.env.allow_uninit_stack;
        if self.insns[pc].code == class::JMP | JCOND {
            // A loop through may_goto: widen against the state of the previous iteration.
            let nodes = &self.nodes;
            if let Some(prev) = self.visited[pc]
                .iter()
                .rev()
                .find(|s| nodes[s.node].live > 0 && !s.state.covers(state, allow))
            {
                state.widen_from(&prev.state);
            }
        }
        for stored in &mut self.visited[pc] {
            if !stored.state.covers(state, allow) {
                stored.misses += 1;
                continue;
            }
            if self.nodes[stored.node].live > 0 && stored.state == *state && state.is_exact() {
                return Err(error(pc, format!("infinite loop detected at insn {pc}")));
            }
            stored.hits += 1;
            return Ok(Visit::Pruned);
        }
        let here = &mut self.visited[pc];
        if here.len() >= MAX_STATES_PER_INSN {
            // Make room by forgetting a finished state that rarely helps, as the kernel does.
            let nodes = &self.nodes;
            let useless = here
                .iter()
                .position(|s| nodes[s.node].live == 0 && s.misses > s.hits * 3 + 3);
            match useless {
                Some(i) => {
                    here.swap_remove(i);
                }
                None => return Ok(Visit::Continue(node)),
            }
        }
        let id = self.nodes.len();
        self.nodes.push(Node {
            parent: node,
            live: 1,
        });
        here.push(Stored {
            state: state.clone(),
            node: id,
            hits: 0,
            misses: 0,
        });
        Ok(Visit::Continue(Some(id)))
    }

    /// Executes instruction `pc` abstractly on `st`.
    fn step(&self, pc: usize, st: &mut State) -> Result<Flow, VerifyError> {
        let insn = self.insns[pc];
        match insn.class() {
            class::ALU | class::ALU64 => {
                self.step_alu(pc, &insn, st)?;
                Ok(Flow::Goto(pc + 1))
            }
            class::LD => {
                let m = insn.code & 0xe0;
                if m == MODE_ABS || m == MODE_IND {
                    return Err(error(
                        pc,
                        "BPF_LD_[ABS|IND] instructions not allowed for this program type",
                    ));
                }
                write_check(pc, insn.dst)?;
                st.regs[usize::from(insn.dst)] = if insn.src == PSEUDO_MAP_FD {
                    RegState::PtrToMap {
                        map: insn.imm as u32,
                    }
                } else {
                    let high = self.insns[pc + 1].imm as u32;
                    RegState::known((u64::from(high) << 32) | u64::from(insn.imm as u32))
                };
                Ok(Flow::Goto(pc + 2))
            }
            class::LDX => {
                let base = read(pc, st, insn.src)?;
                write_check(pc, insn.dst)?;
                let sx = insn.code & 0xe0 == mode::MEMSX;
                let v =
                    self.mem_read(pc, st, insn.src, base, insn.off, access_size(insn.code), sx)?;
                st.regs[usize::from(insn.dst)] = v;
                Ok(Flow::Goto(pc + 1))
            }
            class::ST => {
                let base = read(pc, st, insn.dst)?;
                let value = RegState::known(insn.imm as i64 as u64);
                self.mem_write(
                    pc,
                    st,
                    insn.dst,
                    base,
                    insn.off,
                    access_size(insn.code),
                    Some(value),
                )?;
                Ok(Flow::Goto(pc + 1))
            }
            class::STX if insn.code & 0xe0 == mode::ATOMIC => {
                self.step_atomic(pc, &insn, st)?;
                Ok(Flow::Goto(pc + 1))
            }
            class::STX => {
                let value = read(pc, st, insn.src)?;
                let base = read(pc, st, insn.dst)?;
                self.mem_write(
                    pc,
                    st,
                    insn.dst,
                    base,
                    insn.off,
                    access_size(insn.code),
                    Some(value),
                )?;
                Ok(Flow::Goto(pc + 1))
            }
            _ => self.step_jmp(pc, &insn, st),
        }
    }

    /// ALU and ALU64 instructions.
    fn step_alu(&self, pc: usize, insn: &Insn, st: &mut State) -> Result<(), VerifyError> {
        let is64 = insn.class() == class::ALU64;
        let is_x = insn.code & source::X != 0;
        let op = insn.code & 0xf0;
        let dst = usize::from(insn.dst);
        match op {
            alu::NEG | alu::END => {
                let v = read(pc, st, insn.dst)?;
                write_check(pc, insn.dst)?;
                let result = v.constant().map(|k| {
                    if op == alu::NEG {
                        if is64 {
                            k.wrapping_neg()
                        } else {
                            u64::from((k as u32).wrapping_neg())
                        }
                    } else {
                        byte_swap(k, insn.imm, is64 || is_x)
                    }
                });
                st.regs[dst] = RegState::Scalar(ScalarValue(result));
            }
            alu::MOV => {
                let v = if is_x {
                    read(pc, st, insn.src)?
                } else if is64 {
                    RegState::known(insn.imm as i64 as u64)
                } else {
                    RegState::known(u64::from(insn.imm as u32))
                };
                write_check(pc, insn.dst)?;
                st.regs[dst] = match (is64, insn.off) {
                    (true, 0) => v,
                    (true, bits) => RegState::Scalar(ScalarValue(
                        v.constant().map(|k| extend(k, bits as usize / 8, true)),
                    )),
                    (false, bits) => RegState::Scalar(ScalarValue(v.constant().map(|k| {
                        let k = if bits == 0 {
                            k
                        } else {
                            extend(k, bits as usize / 8, true)
                        };
                        k & 0xffff_ffff
                    }))),
                };
            }
            _ => {
                let src = if is_x {
                    read(pc, st, insn.src)?
                } else {
                    RegState::known(insn.imm as i64 as u64)
                };
                let d = read(pc, st, insn.dst)?;
                write_check(pc, insn.dst)?;
                st.regs[dst] = alu_result(insn, d, src).map_err(|m| error(pc, m))?;
            }
        }
        Ok(())
    }

    /// Atomic read-modify-write, load-acquire and store-release.
    fn step_atomic(&self, pc: usize, insn: &Insn, st: &mut State) -> Result<(), VerifyError> {
        let size = access_size(insn.code);
        match insn.imm {
            ATOMIC_LOAD_ACQ => {
                let base = read(pc, st, insn.src)?;
                write_check(pc, insn.dst)?;
                if matches!(base, RegState::PtrToCtx { .. }) {
                    return Err(error(
                        pc,
                        format!("BPF_ATOMIC loads from R{} ctx is not allowed", insn.src),
                    ));
                }
                let v = self.mem_read(pc, st, insn.src, base, insn.off, size, false)?;
                st.regs[usize::from(insn.dst)] = v;
            }
            ATOMIC_STORE_REL => {
                let value = read(pc, st, insn.src)?;
                let base = read(pc, st, insn.dst)?;
                self.mem_write(pc, st, insn.dst, base, insn.off, size, Some(value))?;
            }
            imm => {
                read(pc, st, insn.src)?;
                let base = read(pc, st, insn.dst)?;
                if imm == ATOMIC_CMPXCHG {
                    read(pc, st, 0)?;
                }
                if matches!(base, RegState::PtrToCtx { .. }) {
                    return Err(error(
                        pc,
                        format!("BPF_ATOMIC stores into R{} ctx is not allowed", insn.dst),
                    ));
                }
                let fetched = if imm == ATOMIC_CMPXCHG {
                    Some(0)
                } else if imm & ATOMIC_FETCH != 0 {
                    Some(insn.src)
                } else {
                    None
                };
                if let Some(r) = fetched {
                    write_check(pc, r)?;
                }
                self.mem_read(pc, st, insn.dst, base, insn.off, size, false)?;
                self.mem_write(pc, st, insn.dst, base, insn.off, size, None)?;
                if let Some(r) = fetched {
                    st.regs[usize::from(r)] = RegState::UNKNOWN;
                }
            }
        }
        Ok(())
    }

    /// JMP and JMP32 instructions.
    fn step_jmp(&self, pc: usize, insn: &Insn, st: &mut State) -> Result<Flow, VerifyError> {
        let op = insn.code & 0xf0;
        let target = jump_target(insn, pc) as usize;
        match op {
            jmp::JA => Ok(Flow::Goto(target)),
            jmp::EXIT => {
                let r0 = read(pc, st, 0)?;
                if self.env.callback && !matches!(r0.constant(), Some(0 | 1)) {
                    return Err(error(
                        pc,
                        "At callback return the register R0 has unknown scalar value should have been in [0, 1]",
                    ));
                }
                Ok(Flow::Exit)
            }
            jmp::CALL => {
                self.call_helper(pc, insn.imm, st)?;
                Ok(Flow::Goto(pc + 1))
            }
            JCOND => Ok(Flow::Fork {
                target,
                state: Box::new(st.clone()),
            }),
            _ => {
                let is32 = insn.class() == class::JMP32;
                let is_x = insn.code & source::X != 0;
                let d = read(pc, st, insn.dst)?;
                let s = if is_x {
                    read(pc, st, insn.src)?
                } else {
                    RegState::known(insn.imm as i64 as u64)
                };
                match branch_taken(op, is32, d, s) {
                    Some(true) => Ok(Flow::Goto(target)),
                    Some(false) => Ok(Flow::Goto(pc + 1)),
                    None => {
                        let mut taken = st.clone();
                        refine(&mut taken, insn, op, true, d, s);
                        refine(st, insn, op, false, d, s);
                        Ok(Flow::Fork {
                            target,
                            state: Box::new(taken),
                        })
                    }
                }
            }
        }
    }

    /// A helper call: a known id, then the calling convention.
    fn call_helper(&self, pc: usize, id: i32, st: &mut State) -> Result<(), VerifyError> {
        if id == 0 {
            return Err(error(
                pc,
                "program of this type cannot use helper bpf_unspec#0",
            ));
        }
        if !(0..HELPER_COUNT).contains(&id) || helper_name(id).is_none() {
            return Err(error(pc, format!("invalid func unknown#{id}")));
        }
        if BUFFER_WRITING_HELPERS.contains(&id) {
            if let (RegState::PtrToStack { off }, Some(len)) = (st.regs[1], st.regs[2].constant()) {
                let len = len as i64;
                if len > 0 && off >= -MAX_BPF_STACK && off + len <= 0 {
                    st.stack.write_bytes(StackState::byte(off), len as usize);
                }
            }
        }
        for r in 1..=5 {
            st.regs[r] = RegState::Uninit;
        }
        st.regs[0] = RegState::UNKNOWN;
        Ok(())
    }

    /// The alignment and bounds of a stack access; returns the offset from r10.
    fn stack_access(
        &self,
        pc: usize,
        regno: u8,
        reg_off: i64,
        off: i16,
        size: usize,
        what: &str,
    ) -> Result<i64, VerifyError> {
        let total = reg_off.wrapping_add(i64::from(off));
        let size_i = size as i64;
        if total.rem_euclid(size_i) != 0 {
            return Err(error(
                pc,
                format!("misaligned stack access off 0+{reg_off}+{off} size {size}"),
            ));
        }
        if total < -MAX_BPF_STACK || total + size_i > 0 {
            return Err(error(
                pc,
                format!("invalid {what} stack R{regno} off={total} size={size}"),
            ));
        }
        Ok(total)
    }

    /// The context access rules shared by reads and writes; returns the offset.
    fn ctx_offset(&self, pc: usize, regno: u8, reg_off: i64, off: i16) -> Result<i64, VerifyError> {
        if reg_off != 0 {
            return Err(error(
                pc,
                format!("dereference of modified ctx ptr R{regno} off={reg_off} disallowed"),
            ));
        }
        Ok(i64::from(off))
    }

    /// A load of `size` bytes at `base + off` (base register `regno`).
    #[allow(clippy::too_many_arguments)]
    fn mem_read(
        &self,
        pc: usize,
        st: &State,
        regno: u8,
        base: RegState,
        off: i16,
        size: usize,
        sx: bool,
    ) -> Result<RegState, VerifyError> {
        match base {
            RegState::PtrToCtx { off: reg_off } => {
                let off = self.ctx_offset(pc, regno, reg_off, off)?;
                let size_i = size as i64;
                if off < 0 || off % size_i != 0 || off + size_i > i64::from(self.env.ctx_size) {
                    return Err(error(
                        pc,
                        format!("invalid bpf_context access off={off} size={size}"),
                    ));
                }
                Ok(RegState::UNKNOWN)
            }
            RegState::PtrToStack { off: reg_off } => {
                let total = self.stack_access(pc, regno, reg_off, off, size, "read from")?;
                st.stack
                    .read(total, size, sx, self.env.allow_uninit_stack)
                    .map_err(|m| error(pc, m))
            }
            // Not modelled yet: map values come back from helpers as scalars, and reading
            // `struct bpf_map` fields through a map reference needs BTF.
            _ => Ok(RegState::UNKNOWN),
        }
    }

    /// A store of `size` bytes of `value` (`None`: unknown bytes) at `base + off`.
    #[allow(clippy::too_many_arguments)]
    fn mem_write(
        &self,
        pc: usize,
        st: &mut State,
        regno: u8,
        base: RegState,
        off: i16,
        size: usize,
        value: Option<RegState>,
    ) -> Result<(), VerifyError> {
        match base {
            RegState::PtrToCtx { off: reg_off } => {
                let off = self.ctx_offset(pc, regno, reg_off, off)?;
                Err(error(
                    pc,
                    format!("invalid bpf_context access off={off} size={size}"),
                ))
            }
            RegState::PtrToStack { off: reg_off } => {
                let total = self.stack_access(pc, regno, reg_off, off, size, "write to")?;
                st.stack.write(total, size, value).map_err(|m| error(pc, m))
            }
            RegState::PtrToMap { .. } => Err(error(pc, "only read from bpf_map is supported")),
            // Not modelled yet: stores through scalars (map values) are not checked.
            _ => Ok(()),
        }
    }
}

/// Reads register `r`, which must have been written.
fn read(pc: usize, st: &State, r: u8) -> Result<RegState, VerifyError> {
    match st.regs[usize::from(r)] {
        RegState::Uninit => Err(error(pc, format!("R{r} !read_ok"))),
        v => Ok(v),
    }
}

/// Checks that register `r` may be written.
fn write_check(pc: usize, r: u8) -> Result<(), VerifyError> {
    if r == R10 {
        Err(error(pc, "frame pointer is read only"))
    } else {
        Ok(())
    }
}

/// The kernel's spelling of an ALU operation in its messages.
fn alu_symbol(op: u8) -> &'static str {
    match op {
        alu::ADD => "+=",
        alu::SUB => "-=",
        alu::MUL => "*=",
        alu::DIV => "/=",
        alu::OR => "|=",
        alu::AND => "&=",
        alu::LSH => "<<=",
        alu::RSH => ">>=",
        alu::MOD => "%=",
        alu::XOR => "^=",
        alu::MOV => "=",
        _ => "s>>=",
    }
}

/// The result of a binary ALU operation (not MOV, NEG or END) on `d` and `s`, or the
/// kernel's message for prohibited pointer arithmetic.
fn alu_result(insn: &Insn, d: RegState, s: RegState) -> Result<RegState, String> {
    let is64 = insn.class() == class::ALU64;
    let op = insn.code & 0xf0;
    let dst = insn.dst;
    let sym = alu_symbol(op);
    match (d.is_pointer(), s.is_pointer()) {
        (false, false) => {
            let value = match (d.constant(), s.constant()) {
                (Some(a), Some(b)) => Some(eval_alu(op, is64, insn.off == 1, a, b)),
                _ => None,
            };
            Ok(RegState::Scalar(ScalarValue(value)))
        }
        (true, true) => {
            if op == alu::SUB {
                Ok(RegState::UNKNOWN)
            } else {
                Err(format!("R{dst} pointer {sym} pointer prohibited"))
            }
        }
        (ptr_is_dst, _) => {
            let (ptr, scalar) = if ptr_is_dst { (d, s) } else { (s, d) };
            if !is64 {
                return if op == alu::SUB {
                    Ok(RegState::UNKNOWN)
                } else {
                    Err(format!("R{dst} 32-bit pointer arithmetic prohibited"))
                };
            }
            let k = scalar.constant();
            if matches!(ptr, RegState::PtrToMap { .. }) && !(op == alu::ADD && k == Some(0)) {
                return Err(format!("R{dst} pointer arithmetic on map_ptr prohibited"));
            }
            match op {
                alu::ADD => Ok(k.map_or(RegState::UNKNOWN, |k| ptr.offset_by(k as i64))),
                alu::SUB if !ptr_is_dst => {
                    Err(format!("R{dst} tried to subtract pointer from scalar"))
                }
                alu::SUB => Ok(k.map_or(RegState::UNKNOWN, |k| {
                    ptr.offset_by((k as i64).wrapping_neg())
                })),
                alu::AND | alu::OR | alu::XOR => Err(format!(
                    "R{dst} bitwise operator {sym} on pointer prohibited"
                )),
                _ => Err(format!(
                    "R{dst} pointer arithmetic with {sym} operator prohibited"
                )),
            }
        }
    }
}

/// A binary ALU operation on constants, with the ISA's semantics: division by zero gives 0,
/// modulo by zero leaves the dividend, shift amounts are masked, 32-bit results are
/// zero-extended. `signed` selects `sdiv`/`smod`.
fn eval_alu(op: u8, is64: bool, signed: bool, a: u64, b: u64) -> u64 {
    if is64 {
        match op {
            alu::ADD => a.wrapping_add(b),
            alu::SUB => a.wrapping_sub(b),
            alu::MUL => a.wrapping_mul(b),
            alu::DIV if b == 0 => 0,
            alu::DIV if signed => (a as i64).wrapping_div(b as i64) as u64,
            alu::DIV => a / b,
            alu::MOD if b == 0 => a,
            alu::MOD if signed => (a as i64).wrapping_rem(b as i64) as u64,
            alu::MOD => a % b,
            alu::OR => a | b,
            alu::AND => a & b,
            alu::XOR => a ^ b,
            alu::LSH => a << (b & 63),
            alu::RSH => a >> (b & 63),
            _ => ((a as i64) >> (b & 63)) as u64,
        }
    } else {
        let (a, b) = (a as u32, b as u32);
        u64::from(match op {
            alu::ADD => a.wrapping_add(b),
            alu::SUB => a.wrapping_sub(b),
            alu::MUL => a.wrapping_mul(b),
            alu::DIV if b == 0 => 0,
            alu::DIV if signed => (a as i32).wrapping_div(b as i32) as u32,
            alu::DIV => a / b,
            alu::MOD if b == 0 => a,
            alu::MOD if signed => (a as i32).wrapping_rem(b as i32) as u32,
            alu::MOD => a % b,
            alu::OR => a | b,
            alu::AND => a & b,
            alu::XOR => a ^ b,
            alu::LSH => a << (b & 31),
            alu::RSH => a >> (b & 31),
            _ => ((a as i32) >> (b & 31)) as u32,
        })
    }
}

/// Byte-swap instructions on a constant: `swap` for `be` (on a little-endian machine) and
/// `bswap`, otherwise `le` (truncation). `bits` is 16, 32 or 64.
fn byte_swap(v: u64, bits: i32, swap: bool) -> u64 {
    match (bits, swap) {
        (16, true) => u64::from((v as u16).swap_bytes()),
        (32, true) => u64::from((v as u32).swap_bytes()),
        (16, false) => v & 0xffff,
        (32, false) => v & 0xffff_ffff,
        (_, true) => v.swap_bytes(),
        (_, false) => v,
    }
}

/// Whether a conditional jump is decided: both operands known constants, or a pointer
/// (never null) compared for (in)equality with zero.
fn branch_taken(op: u8, is32: bool, d: RegState, s: RegState) -> Option<bool> {
    if let (Some(a), Some(b)) = (d.constant(), s.constant()) {
        return Some(compare(op, is32, a, b));
    }
    let zero_vs_pointer =
        (d.is_pointer() && s.constant() == Some(0)) || (s.is_pointer() && d.constant() == Some(0));
    match op {
        jmp::JEQ if zero_vs_pointer => Some(false),
        jmp::JNE if zero_vs_pointer => Some(true),
        _ => None,
    }
}

/// A conditional jump's comparison on constants.
fn compare(op: u8, is32: bool, a: u64, b: u64) -> bool {
    let (a, b) = if is32 {
        (u64::from(a as u32), u64::from(b as u32))
    } else {
        (a, b)
    };
    let (sa, sb) = if is32 {
        (i64::from(a as u32 as i32), i64::from(b as u32 as i32))
    } else {
        (a as i64, b as i64)
    };
    match op {
        jmp::JEQ => a == b,
        jmp::JNE => a != b,
        jmp::JGT => a > b,
        jmp::JGE => a >= b,
        jmp::JLT => a < b,
        jmp::JLE => a <= b,
        jmp::JSET => a & b != 0,
        jmp::JSGT => sa > sb,
        jmp::JSGE => sa >= sb,
        jmp::JSLT => sa < sb,
        _ => sa <= sb,
    }
}

/// What a 64-bit `==`/`!=` teaches on the side where the operands are equal: an unknown
/// scalar compared with a constant becomes that constant.
fn refine(st: &mut State, insn: &Insn, op: u8, taken: bool, d: RegState, s: RegState) {
    let equal_side = (op == jmp::JEQ && taken) || (op == jmp::JNE && !taken);
    if !equal_side || insn.class() == class::JMP32 {
        return;
    }
    if d == RegState::UNKNOWN && s.constant().is_some() {
        st.regs[usize::from(insn.dst)] = s;
    } else if insn.code & source::X != 0 && s == RegState::UNKNOWN && d.constant().is_some() {
        st.regs[usize::from(insn.src)] = d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::disasm::disassemble;
    use crate::bpf::insn::{alu::*, jmp::*, size::*};

    /// An instruction from its raw fields.
    fn raw(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn::new(code, dst, src, off, imm)
    }

    /// A program from pieces (single instructions and `lddw` pairs).
    fn prog(parts: &[&[Insn]]) -> Vec<Insn> {
        parts.concat()
    }

    /// A kprobe-like environment: a 168-byte context and one map.
    fn env() -> VerifyEnv {
        VerifyEnv::new(168, 1)
    }

    /// `r0 = 0; exit`.
    fn ret0() -> [Insn; 2] {
        [Insn::mov64_imm(0, 0), Insn::exit()]
    }

    /// Asserts that `insns` is rejected at `insn` with `message`.
    fn rejects_with(env: &VerifyEnv, insns: &[Insn], insn: usize, message: &str) {
        match verify(insns, env) {
            Ok(stats) => panic!(
                "accepted ({stats:?}), expected `{message}` at {insn}:\n{}",
                disassemble(insns, &|_| None)
            ),
            Err(e) => assert_eq!(
                (e.insn, e.message.as_str()),
                (insn, message),
                "\n{}",
                disassemble(insns, &|_| None)
            ),
        }
    }

    /// Asserts that `insns` is rejected at `insn` with `message` in [`env`].
    fn rejects(insns: &[Insn], insn: usize, message: &str) {
        rejects_with(&env(), insns, insn, message);
    }

    /// Asserts that `insns` is accepted in [`env`].
    fn accepts(insns: &[Insn]) -> VerifyStats {
        verify(insns, &env())
            .unwrap_or_else(|e| panic!("rejected: {e}\n{}", disassemble(insns, &|_| None)))
    }

    /// The counter-style program of a tracing tool: count events per command name.
    fn counter_program() -> Vec<Insn> {
        prog(&[
            &[
                Insn::mov64_reg(6, 1),
                Insn::store_imm(DW, R10, -16, 0),
                Insn::store_imm(DW, R10, -8, 0),
                Insn::mov64_reg(1, R10),
                Insn::alu64_imm(ADD, 1, -16),
                Insn::mov64_imm(2, 16),
                Insn::call(16), // bpf_get_current_comm
            ],
            &Insn::ld_map_fd(1, 0),
            &[
                Insn::mov64_reg(2, R10),
                Insn::alu64_imm(ADD, 2, -16),
                Insn::call(1), // bpf_map_lookup_elem
                Insn::jmp_imm(JEQ, 0, 0, 2),
                Insn::mov64_imm(1, 1),
                Insn::atomic_add(DW, 0, 0, 1),
                Insn::mov64_imm(0, 0),
                Insn::exit(),
            ],
        ])
    }

    #[test]
    fn error_display_names_the_insn() {
        let e = error(3, "R3 !read_ok");
        assert_eq!(e.to_string(), "R3 !read_ok at insn 3");
    }

    #[test]
    fn a_callback_returns_zero_or_one() {
        let env = VerifyEnv::callback(1);
        // The arguments are readable at entry, and the function address loads.
        let good = prog(&[
            &[Insn::mov64_reg(6, 2), Insn::mov64_reg(7, 4)],
            &Insn::ld_func(8, 3),
            &ret0(),
        ]);
        verify(&good, &env).unwrap_or_else(|e| panic!("rejected: {e}"));
        let unknown = [Insn::mov64_reg(0, 3), Insn::exit()];
        rejects_with(
            &env,
            &unknown,
            1,
            "At callback return the register R0 has unknown scalar value should have been in [0, 1]",
        );
        // Outside a callback, r2 is not an argument.
        rejects(&[Insn::mov64_reg(0, 2), Insn::exit()], 0, "R2 !read_ok");
    }

    #[test]
    fn accepts_a_counter_program() {
        let stats = accepts(&counter_program());
        // One path through the null check, one around it.
        assert!(stats.processed >= 16 && stats.processed < 40, "{stats:?}");
    }

    #[test]
    fn accepts_a_loop_with_a_constant_bound() {
        let insns = prog(&[
            &[
                Insn::mov64_imm(6, 0),
                Insn::alu64_imm(ADD, 6, 1),
                Insn::jmp_imm(JLT, 6, 10, -2),
            ],
            &ret0(),
        ]);
        // Unrolled like the kernel does: 1 + 10 * 2 + 2.
        assert_eq!(accepts(&insns).processed, 23);
    }

    #[test]
    fn accepts_a_loop_on_an_unknown_counter_by_pruning() {
        let insns = prog(&[
            &[
                Insn::call(7),
                Insn::mov64_reg(6, 0),
                Insn::alu64_imm(ADD, 6, 1),
                Insn::jmp_imm(JLT, 6, 10, -2),
            ],
            &ret0(),
        ]);
        assert!(accepts(&insns).processed < 20);
    }

    #[test]
    fn accepts_stores_then_loads_of_stack() {
        let insns = prog(&[
            &[
                Insn::store_imm(DW, R10, -8, -1),
                Insn::store_imm(W, R10, -12, 7),
                Insn::store_imm(H, R10, -14, 7),
                Insn::store_imm(B, R10, -15, 7),
                Insn::store_imm(B, R10, -16, 7),
                Insn::mov64_imm(3, 42),
                Insn::store_reg(DW, R10, -24, 3),
                Insn::load(DW, 0, R10, -8),
                Insn::load(W, 0, R10, -12),
                Insn::load(H, 0, R10, -14),
                Insn::load(B, 0, R10, -16),
                Insn::load(DW, 0, R10, -16),
                Insn::load(W, 4, R10, -24),
                raw(0x91, 5, R10, -8, 0), // sign-extending byte load of -1
                Insn::mov64_reg(1, R10),
                Insn::alu64_imm(ADD, 1, -24),
                Insn::load(DW, 0, 1, 0),
                Insn::load(DW, 0, 1, 8),
            ],
            &ret0(),
        ]);
        accepts(&insns);
    }

    #[test]
    fn constants_survive_spills_and_decide_branches() {
        // r5 = *(s8 *)(r10 - 8) reads back -1, so the jump to the bad read is never taken.
        let insns = prog(&[
            &[
                Insn::store_imm(DW, R10, -8, -1),
                raw(0x91, 5, R10, -8, 0),
                Insn::jmp_imm(JNE, 5, -1, 2),
            ],
            &ret0(),
            &[Insn::mov64_reg(0, 7), Insn::exit()],
        ]);
        accepts(&insns);
        // With an unsigned load the value is 0xff and the bad path is taken.
        let mut unsigned = insns.clone();
        unsigned[1] = Insn::load(B, 5, R10, -8);
        rejects(&unsigned, 5, "R7 !read_ok");
    }

    #[test]
    fn a_spilled_context_pointer_can_be_filled_and_used() {
        let insns = prog(&[&[
            Insn::store_reg(DW, R10, -8, 1),
            Insn::call(5),
            Insn::load(DW, 6, R10, -8),
            Insn::load(DW, 0, 6, 160),
            Insn::exit(),
        ]]);
        accepts(&insns);
        let mut beyond = insns.clone();
        beyond[3] = Insn::load(DW, 0, 6, 168);
        rejects(&beyond, 3, "invalid bpf_context access off=168 size=8");
    }

    #[test]
    fn accepts_atomics_on_the_stack() {
        let insns = prog(&[
            &[
                Insn::store_imm(DW, R10, -8, 0),
                Insn::mov64_imm(2, 1),
                Insn::atomic_add(DW, R10, -8, 2),
                raw(0xdb, R10, 2, -8, 0x01), // fetch add
                raw(0xdb, R10, 2, -8, 0xe1), // xchg
                Insn::mov64_imm(0, 0),
                raw(0xdb, R10, 2, -8, 0xf1),  // cmpxchg
                raw(0xdb, 3, R10, -8, 0x100), // load-acquire
                raw(0xdb, R10, 3, -8, 0x110), // store-release
                Insn::store_imm(W, R10, -12, 0),
                raw(0xc3, R10, 2, -12, 0x50), // lock and, 32-bit
            ],
            &ret0(),
        ]);
        accepts(&insns);
    }

    #[test]
    fn accepts_every_alu_operation_on_scalars() {
        let mut insns = vec![Insn::mov64_imm(1, 100), Insn::mov64_imm(2, 7)];
        for op in [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR, ARSH] {
            insns.push(Insn::alu64_reg(op, 1, 2));
            insns.push(Insn::alu64_imm(op, 1, 3));
            insns.push(raw(class::ALU | op | source::X, 1, 2, 0, 0));
            insns.push(raw(class::ALU | op, 1, 0, 0, 3));
        }
        insns.extend([
            raw(0x3f, 1, 2, 1, 0), // sdiv
            raw(0x9c, 1, 2, 1, 0), // smod32
            Insn::alu64_imm(NEG, 1, 0),
            raw(0xdc, 1, 0, 0, 16),
            raw(0xd7, 1, 0, 0, 64),
            raw(0xbf, 3, 1, 8, 0),
            raw(0xbc, 3, 1, 16, 0),
            // Division by a register holding zero is defined (the result is 0).
            Insn::mov64_imm(2, 0),
            Insn::alu64_reg(DIV, 1, 2),
            Insn::alu64_reg(MOD, 1, 2),
        ]);
        insns.extend(ret0());
        accepts(&insns);
    }

    #[test]
    fn the_dead_side_of_a_constant_branch_is_not_explored() {
        let insns = prog(&[
            &[Insn::mov64_imm(2, 0), Insn::jmp_imm(JNE, 2, 0, 2)],
            &ret0(),
            &[Insn::mov64_reg(0, 5), Insn::exit()],
        ]);
        accepts(&insns);
        // A pointer is never null: `if r1 == 0` is never taken.
        let insns = prog(&[
            &[Insn::jmp_imm(JEQ, 1, 0, 2)],
            &ret0(),
            &[Insn::mov64_reg(0, 5), Insn::exit()],
        ]);
        accepts(&insns);
    }

    #[test]
    fn both_sides_of_an_unknown_branch_are_explored() {
        let insns = prog(&[&[
            Insn::call(7),
            Insn::jmp_imm(JEQ, 0, 0, 1),
            Insn::mov64_imm(3, 1),
            Insn::mov64_reg(0, 3),
            Insn::exit(),
        ]]);
        rejects(&insns, 3, "R3 !read_ok");
    }

    #[test]
    fn equality_refines_an_unknown_scalar() {
        // On the equal side r0 is 5, so the comparison with 6 is decided.
        let insns = prog(&[
            &[
                Insn::call(7),
                Insn::jmp_imm(JNE, 0, 5, 3),
                Insn::jmp_imm(JEQ, 0, 6, 2),
            ],
            &ret0(),
            &[Insn::mov64_reg(0, 9), Insn::exit()],
        ]);
        rejects(&insns, 5, "R9 !read_ok");
        let mut refined = insns.clone();
        refined[1] = Insn::jmp_imm(JNE, 0, 5, 2);
        accepts(&refined);
    }

    #[test]
    fn rejects_an_empty_program() {
        rejects(&[], 0, "program has no instructions");
    }

    #[test]
    fn rejects_unknown_opcodes() {
        for code in [
            0xff, 0x8d, 0x0d, 0xdf, 0x99, 0x86, 0x96, 0xe6, 0xc2, 0x38, 0x8c,
        ] {
            let insns = prog(&[&[raw(code, 0, 0, 0, 0)], &ret0()]);
            rejects(&insns, 0, &format!("unknown opcode {code:02x}"));
        }
        // The second half of an lddw on its own.
        rejects(
            &prog(&[&ret0(), &[Insn::default()], &ret0()]),
            2,
            "unknown opcode 00",
        );
    }

    #[test]
    fn every_opcode_is_classified_without_panicking() {
        let known = (0..=255u8).filter(|&c| opcode_is_known(c)).count();
        // 12 two-form ALU ops + neg + 2 swaps (ALU), 12 * 2 + neg + bswap (ALU64),
        // 11 * 2 conditionals + ja + call + exit + may_goto (JMP), 11 * 2 + gotol (JMP32),
        // lddw + 6 packet loads, 4 + 3 loads, 4 stores, 4 + 4 stx.
        assert_eq!(known, 27 + 26 + 26 + 23 + 7 + 7 + 4 + 8);
        for code in 0..=255u8 {
            for imm in [0, 1, -1, 16, 0x100] {
                let insns = prog(&[&[raw(code, 1, 2, 1, imm)], &[Insn::default()], &ret0()]);
                let _ = verify(&insns, &VerifyEnv::new(8, 1));
            }
        }
    }

    #[test]
    fn rejects_reserved_fields() {
        let cases: Vec<(Insn, &str)> = vec![
            (raw(0x07, 1, 2, 0, 1), "BPF_ALU uses reserved fields"),
            (raw(0x07, 1, 0, 3, 1), "BPF_ALU uses reserved fields"),
            (raw(0x0f, 1, 2, 0, 1), "BPF_ALU uses reserved fields"),
            (raw(0x0f, 1, 2, 1, 0), "BPF_ALU uses reserved fields"),
            (raw(0xbf, 1, 2, 0, 5), "BPF_MOV uses reserved fields"),
            (raw(0xbf, 1, 2, 7, 0), "BPF_MOV uses reserved fields"),
            (raw(0xbc, 1, 2, 32, 0), "BPF_MOV uses reserved fields"),
            (raw(0xb7, 1, 2, 0, 5), "BPF_MOV uses reserved fields"),
            (raw(0x87, 1, 0, 0, 1), "BPF_NEG uses reserved fields"),
            (raw(0xd4, 1, 0, 0, 17), "BPF_END uses reserved fields"),
            (raw(0xd7, 1, 0, 0, 24), "BPF_END uses reserved fields"),
            (raw(0x79, 2, R10, -8, 1), "BPF_LDX uses reserved fields"),
            (raw(0x7b, R10, 2, -8, 1), "BPF_STX uses reserved fields"),
            (raw(0x7a, R10, 3, -8, 0), "BPF_ST uses reserved fields"),
            (raw(0x85, 1, 0, 0, 5), "BPF_CALL uses reserved fields"),
            (raw(0x85, 0, 0, 2, 5), "BPF_CALL uses reserved fields"),
            (raw(0x05, 1, 0, 0, 0), "BPF_JA uses reserved fields"),
            (raw(0x05, 0, 0, 0, 1), "BPF_JA uses reserved fields"),
            (raw(0x06, 0, 0, 1, 0), "BPF_JA uses reserved fields"),
            (raw(0x15, 1, 2, 0, 0), "BPF_JMP/JMP32 uses reserved fields"),
            (raw(0x1d, 1, 2, 0, 1), "BPF_JMP/JMP32 uses reserved fields"),
            (raw(0x16, 1, 2, 0, 0), "BPF_JMP/JMP32 uses reserved fields"),
            (raw(0xe5, 0, 0, 0, 3), "invalid may_goto imm 3"),
            (
                raw(0x20, 1, 0, 0, 0),
                "BPF_LD_[ABS|IND] uses reserved fields",
            ),
            (
                raw(0xdb, R10, 2, -8, 0x10),
                "BPF_ATOMIC uses invalid atomic opcode 10",
            ),
            (raw(0xd3, R10, 2, -8, 0), "invalid atomic operand size"),
            (raw(0x37, 1, 0, 0, 0), "div by zero"),
            (raw(0x94, 1, 0, 0, 0), "div by zero"),
            (raw(0x67, 1, 0, 0, 64), "invalid shift 64"),
            (raw(0x64, 1, 0, 0, -1), "invalid shift -1"),
            (raw(0x74, 1, 0, 0, 32), "invalid shift 32"),
            (raw(0xb7, 11, 0, 0, 0), "R11 is invalid"),
            (raw(0xbf, 1, 15, 0, 0), "R15 is invalid"),
            (
                raw(0x85, 0, 1, 0, 0),
                "bpf-to-bpf calls are not supported by the local verifier",
            ),
        ];
        for (insn, message) in cases {
            rejects(&prog(&[&[insn], &ret0()]), 0, message);
        }
        // The same at a later instruction.
        rejects(
            &prog(&[&ret0()[..1], &[raw(0x95, 1, 0, 0, 0)]]),
            1,
            "BPF_EXIT uses reserved fields",
        );
        let mut lddw = Insn::ld_imm64(1, 5);
        lddw[0].off = 3;
        rejects(
            &prog(&[&lddw, &ret0()]),
            0,
            "BPF_LD_IMM64 uses reserved fields",
        );
    }

    #[test]
    fn rejects_jumps_out_of_range() {
        rejects(
            &prog(&[&[Insn::mov64_imm(0, 0), Insn::ja(40)], &[Insn::exit()]]),
            1,
            "jump out of range from insn 1 to 42",
        );
        rejects(
            &prog(&[&[Insn::ja(-3)], &ret0()]),
            0,
            "jump out of range from insn 0 to -2",
        );
        rejects(
            &prog(&[&[Insn::jmp_imm(JEQ, 1, 0, 3)], &ret0()]),
            0,
            "jump out of range from insn 0 to 4",
        );
        rejects(
            &prog(&[&[raw(0x06, 0, 0, 0, 40)], &ret0()]),
            0,
            "jump out of range from insn 0 to 41",
        );
    }

    #[test]
    fn rejects_a_jump_into_the_middle_of_lddw() {
        let insns = prog(&[
            &[Insn::mov64_imm(0, 0), Insn::jmp_imm(JEQ, 0, 0, 1)],
            &Insn::ld_imm64(1, 5),
            &[Insn::exit()],
        ]);
        rejects(&insns, 2, "jump into the middle of ldimm64 insn 2");
        // When the jump skips the first half, that half is unreachable first.
        let insns = prog(&[&[Insn::ja(1)], &Insn::ld_imm64(1, 5), &ret0()]);
        rejects(&insns, 1, "unreachable insn 1");
    }

    #[test]
    fn rejects_an_lddw_without_its_second_half() {
        rejects(
            &prog(&[&[raw(0x18, 1, 0, 0, 5)], &ret0()]),
            0,
            "invalid bpf_ld_imm64 insn",
        );
        let mut bad = Insn::ld_imm64(1, 5);
        bad[1].dst = 2;
        rejects(&prog(&[&bad, &ret0()]), 0, "invalid bpf_ld_imm64 insn");
        // As the very last instruction, the missing exit is found first (as in the kernel).
        rejects(
            &prog(&[&ret0(), &[raw(0x18, 1, 0, 0, 5)]]),
            2,
            "last insn is not an exit or jmp",
        );
    }

    #[test]
    fn rejects_falling_off_the_end() {
        rejects(
            &[Insn::mov64_imm(0, 0)],
            0,
            "last insn is not an exit or jmp",
        );
        rejects(
            &[Insn::mov64_imm(0, 0), Insn::jmp_imm(JEQ, 0, 0, -2)],
            1,
            "last insn is not an exit or jmp",
        );
        rejects(
            &prog(&[&ret0(), &[Insn::call(5)]]),
            2,
            "last insn is not an exit or jmp",
        );
        // Ending in a jump back is fine.
        accepts(&[
            Insn::mov64_imm(0, 0),
            Insn::ja(1),
            Insn::exit(),
            Insn::ja(-2),
        ]);
    }

    #[test]
    fn rejects_unreachable_code() {
        rejects(&prog(&[&ret0(), &ret0()]), 2, "unreachable insn 2");
    }

    #[test]
    fn rejects_reads_of_uninitialised_registers() {
        rejects(&[Insn::exit()], 0, "R0 !read_ok");
        rejects(&[Insn::mov64_reg(0, 3), Insn::exit()], 0, "R3 !read_ok");
        // The destination of a read-modify-write ALU operation.
        rejects(
            &[
                Insn::mov64_imm(0, 0),
                Insn::alu64_imm(ADD, 2, 1),
                Insn::exit(),
            ],
            1,
            "R2 !read_ok",
        );
        rejects(
            &[Insn::mov64_imm(0, 0), raw(0x84, 4, 0, 0, 0), Insn::exit()],
            1,
            "R4 !read_ok",
        );
        // The base of loads and stores, the value of a store.
        rejects(&[Insn::load(DW, 0, 3, 0), Insn::exit()], 0, "R3 !read_ok");
        rejects(
            &prog(&[&[Insn::store_imm(DW, 4, 0, 0)], &ret0()]),
            0,
            "R4 !read_ok",
        );
        rejects(
            &prog(&[&[Insn::store_reg(DW, R10, -8, 5)], &ret0()]),
            0,
            "R5 !read_ok",
        );
        // Jump operands, the destination first.
        rejects(
            &prog(&[&[Insn::jmp_reg(JEQ, 6, 7, 0)], &ret0()]),
            0,
            "R6 !read_ok",
        );
        rejects(
            &prog(&[&[Insn::jmp_reg(JEQ, 1, 7, 0)], &ret0()]),
            0,
            "R7 !read_ok",
        );
        // r0 for cmpxchg.
        rejects(
            &prog(&[
                &[
                    Insn::store_imm(DW, R10, -8, 0),
                    Insn::mov64_imm(2, 1),
                    raw(0xdb, R10, 2, -8, 0xf1),
                ],
                &ret0(),
            ]),
            2,
            "R0 !read_ok",
        );
        // A call clobbers r1-r5 and sets r0.
        rejects(
            &[Insn::call(5), Insn::mov64_reg(0, 1), Insn::exit()],
            1,
            "R1 !read_ok",
        );
        accepts(&[
            Insn::mov64_imm(6, 1),
            Insn::call(5),
            Insn::mov64_reg(0, 6),
            Insn::exit(),
        ]);
        accepts(&[Insn::call(5), Insn::exit()]);
    }

    #[test]
    fn rejects_writes_to_the_frame_pointer() {
        let fp = "frame pointer is read only";
        rejects(&prog(&[&[Insn::mov64_imm(R10, 1)], &ret0()]), 0, fp);
        rejects(&prog(&[&[Insn::alu64_imm(ADD, R10, 8)], &ret0()]), 0, fp);
        rejects(&prog(&[&[Insn::mov64_reg(R10, 1)], &ret0()]), 0, fp);
        rejects(&prog(&[&[Insn::load(DW, R10, 1, 0)], &ret0()]), 0, fp);
        rejects(&prog(&[&Insn::ld_imm64(R10, 1), &ret0()]), 0, fp);
        rejects(
            &prog(&[
                &[
                    Insn::store_imm(DW, R10, -8, 0),
                    Insn::mov64_reg(3, R10),
                    raw(0xdb, 3, R10, -8, 0x01),
                ],
                &ret0(),
            ]),
            2,
            fp,
        );
    }

    #[test]
    fn rejects_stack_accesses_out_of_bounds() {
        rejects(
            &prog(&[&[Insn::store_imm(DW, R10, -520, 0)], &ret0()]),
            0,
            "invalid write to stack R10 off=-520 size=8",
        );
        rejects(
            &prog(&[&[Insn::store_imm(DW, R10, 0, 0)], &ret0()]),
            0,
            "invalid write to stack R10 off=0 size=8",
        );
        rejects(
            &prog(&[&[Insn::load(DW, 2, R10, -520)], &ret0()]),
            0,
            "invalid read from stack R10 off=-520 size=8",
        );
        rejects(
            &prog(&[&[Insn::load(W, 2, R10, 4)], &ret0()]),
            0,
            "invalid read from stack R10 off=4 size=4",
        );
        // Through a copy of the frame pointer moved by a constant.
        rejects(
            &prog(&[
                &[
                    Insn::mov64_reg(1, R10),
                    Insn::alu64_imm(ADD, 1, -8),
                    Insn::store_imm(DW, 1, -520, 0),
                ],
                &ret0(),
            ]),
            2,
            "invalid write to stack R1 off=-528 size=8",
        );
        rejects(
            &prog(&[
                &[
                    Insn::mov64_imm(2, 512),
                    Insn::mov64_reg(1, R10),
                    Insn::alu64_reg(SUB, 1, 2),
                    Insn::store_imm(B, 1, -1, 0),
                ],
                &ret0(),
            ]),
            3,
            "invalid write to stack R1 off=-513 size=1",
        );
        // The edges are fine.
        accepts(&prog(&[
            &[
                Insn::store_imm(DW, R10, -512, 0),
                Insn::store_imm(B, R10, -1, 0),
                Insn::load(DW, 2, R10, -512),
            ],
            &ret0(),
        ]));
    }

    #[test]
    fn rejects_misaligned_stack_accesses() {
        rejects(
            &prog(&[&[Insn::store_imm(DW, R10, -7, 0)], &ret0()]),
            0,
            "misaligned stack access off 0+0+-7 size 8",
        );
        rejects(
            &prog(&[
                &[
                    Insn::mov64_reg(1, R10),
                    Insn::alu64_imm(ADD, 1, -8),
                    Insn::store_imm(DW, 1, -4, 0),
                ],
                &ret0(),
            ]),
            2,
            "misaligned stack access off 0+-8+-4 size 8",
        );
    }

    #[test]
    fn rejects_reads_of_unwritten_stack() {
        rejects(
            &[Insn::load(DW, 0, R10, -8), Insn::exit()],
            0,
            "invalid read from stack off -8+0 size 8",
        );
        let half = prog(&[
            &[Insn::store_imm(W, R10, -8, 0), Insn::load(DW, 0, R10, -8)],
            &[Insn::exit()],
        ]);
        rejects(&half, 1, "invalid read from stack off -8+4 size 8");
        // Atomics read before they write.
        rejects(
            &prog(&[
                &[Insn::mov64_imm(2, 1), Insn::atomic_add(DW, R10, -16, 2)],
                &ret0(),
            ]),
            1,
            "invalid read from stack off -16+0 size 8",
        );
        // The kernel lets root read such bytes; so does the verifier when asked to.
        let lenient = VerifyEnv {
            allow_uninit_stack: true,
            ..env()
        };
        assert!(verify(&half, &lenient).is_ok());
        // A helper that fills a stack buffer initialises it.
        accepts(&[
            Insn::mov64_reg(1, R10),
            Insn::alu64_imm(ADD, 1, -16),
            Insn::mov64_imm(2, 16),
            Insn::call(16),
            Insn::load(DW, 0, R10, -16),
            Insn::load(DW, 0, R10, -8),
            Insn::exit(),
        ]);
    }

    #[test]
    fn rejects_partial_spills_and_fills_of_pointers() {
        rejects(
            &prog(&[&[Insn::store_reg(W, R10, -8, 1)], &ret0()]),
            0,
            "invalid size of register spill",
        );
        rejects(
            &prog(&[
                &[Insn::store_reg(DW, R10, -8, 1), Insn::load(W, 2, R10, -8)],
                &ret0(),
            ]),
            1,
            "invalid size of register fill",
        );
        // Overwriting part of a spilled pointer turns the slot into plain bytes.
        accepts(&prog(&[
            &[
                Insn::store_reg(DW, R10, -8, 1),
                Insn::store_imm(W, R10, -8, 0),
                Insn::load(W, 2, R10, -4),
                Insn::load(DW, 2, R10, -8),
            ],
            &ret0(),
        ]));
    }

    #[test]
    fn rejects_unknown_helpers() {
        rejects(
            &prog(&[&[Insn::call(212)], &ret0()]),
            0,
            "invalid func unknown#212",
        );
        rejects(
            &prog(&[&[Insn::call(-1)], &ret0()]),
            0,
            "invalid func unknown#-1",
        );
        rejects(
            &prog(&[&[Insn::call(0)], &ret0()]),
            0,
            "program of this type cannot use helper bpf_unspec#0",
        );
        accepts(&prog(&[&[Insn::call(211)], &ret0()]));
    }

    #[test]
    fn rejects_references_to_missing_maps() {
        rejects(
            &prog(&[&Insn::ld_map_fd(1, 1), &ret0()]),
            0,
            "fd 1 is not pointing to valid bpf_map",
        );
        rejects(
            &prog(&[&Insn::ld_map_fd(1, -3), &ret0()]),
            0,
            "fd -3 is not pointing to valid bpf_map",
        );
        rejects_with(
            &VerifyEnv::new(168, 0),
            &prog(&[&Insn::ld_map_fd(1, 0), &ret0()]),
            0,
            "fd 0 is not pointing to valid bpf_map",
        );
        let mut upper = Insn::ld_map_fd(1, 0);
        upper[1].imm = 1;
        rejects(
            &prog(&[&upper, &ret0()]),
            0,
            "unrecognized bpf_ld_imm64 insn",
        );
        let mut value = Insn::ld_map_fd(1, 0);
        value[0].src = 9;
        rejects(
            &prog(&[&value, &ret0()]),
            0,
            "unrecognized bpf_ld_imm64 insn",
        );
    }

    #[test]
    fn rejects_bad_context_accesses() {
        rejects(
            &[Insn::load(DW, 0, 1, 168), Insn::exit()],
            0,
            "invalid bpf_context access off=168 size=8",
        );
        rejects(
            &[Insn::load(W, 0, 1, 166), Insn::exit()],
            0,
            "invalid bpf_context access off=166 size=4",
        );
        rejects(
            &[Insn::load(W, 0, 1, 2), Insn::exit()],
            0,
            "invalid bpf_context access off=2 size=4",
        );
        rejects(
            &[Insn::load(DW, 0, 1, -8), Insn::exit()],
            0,
            "invalid bpf_context access off=-8 size=8",
        );
        // Stores are rejected.
        rejects(
            &prog(&[&[Insn::store_reg(DW, 1, 0, 1)], &ret0()]),
            0,
            "invalid bpf_context access off=0 size=8",
        );
        rejects(
            &prog(&[&[Insn::store_imm(DW, 1, 8, 5)], &ret0()]),
            0,
            "invalid bpf_context access off=8 size=8",
        );
        rejects(
            &prog(&[
                &[Insn::mov64_imm(2, 1), Insn::atomic_add(DW, 1, 0, 2)],
                &ret0(),
            ]),
            1,
            "BPF_ATOMIC stores into R1 ctx is not allowed",
        );
        rejects(
            &prog(&[&[raw(0xdb, 2, 1, 0, 0x100)], &ret0()]),
            0,
            "BPF_ATOMIC loads from R1 ctx is not allowed",
        );
        // A moved context pointer may not be dereferenced.
        rejects(
            &[
                Insn::alu64_imm(ADD, 1, 8),
                Insn::load(DW, 0, 1, 0),
                Insn::exit(),
            ],
            1,
            "dereference of modified ctx ptr R1 off=8 disallowed",
        );
        // Within bounds is fine, at every size.
        accepts(&[
            Insn::load(DW, 0, 1, 160),
            Insn::load(W, 0, 1, 164),
            Insn::load(H, 0, 1, 166),
            Insn::load(B, 0, 1, 167),
            raw(0x81, 0, 1, 4, 0),
            Insn::exit(),
        ]);
    }

    #[test]
    fn rejects_prohibited_pointer_arithmetic() {
        let fp_copy = Insn::mov64_reg(1, R10);
        let cases: Vec<(Vec<Insn>, &str)> = vec![
            (
                vec![fp_copy, Insn::alu64_imm(AND, 1, 7)],
                "R1 bitwise operator &= on pointer prohibited",
            ),
            (
                vec![fp_copy, Insn::alu64_imm(LSH, 1, 1)],
                "R1 pointer arithmetic with <<= operator prohibited",
            ),
            (
                vec![fp_copy, Insn::alu64_imm(MUL, 1, 2)],
                "R1 pointer arithmetic with *= operator prohibited",
            ),
            (
                vec![fp_copy, raw(0x04, 1, 0, 0, 1)],
                "R1 32-bit pointer arithmetic prohibited",
            ),
            (
                vec![Insn::mov64_reg(2, R10), Insn::alu64_reg(ADD, 2, R10)],
                "R2 pointer += pointer prohibited",
            ),
            (
                vec![Insn::mov64_imm(2, 0), Insn::alu64_reg(SUB, 2, R10)],
                "R2 tried to subtract pointer from scalar",
            ),
        ];
        for (mut insns, message) in cases {
            let at = insns.len() - 1;
            insns.extend(ret0());
            rejects(&insns, at, message);
        }
        rejects(
            &prog(&[
                &Insn::ld_map_fd(1, 0),
                &[Insn::alu64_imm(ADD, 1, 8)],
                &ret0(),
            ]),
            2,
            "R1 pointer arithmetic on map_ptr prohibited",
        );
        rejects(
            &prog(&[
                &Insn::ld_map_fd(1, 0),
                &[Insn::store_imm(DW, 1, 0, 0)],
                &ret0(),
            ]),
            2,
            "only read from bpf_map is supported",
        );
        // What root may do: scalar + pointer, pointer - pointer, 32-bit subtraction.
        accepts(&prog(&[
            &[
                Insn::mov64_imm(2, -8),
                Insn::alu64_reg(ADD, 2, R10),
                Insn::store_imm(DW, 2, 0, 0),
                Insn::mov64_reg(3, R10),
                Insn::alu64_reg(SUB, 3, 2),
                Insn::mov64_reg(4, R10),
                raw(0x14, 4, 0, 0, 1),
                Insn::alu64_imm(NEG, 2, 0),
            ],
            &ret0(),
        ]));
    }

    #[test]
    fn rejects_packet_loads_and_calls_it_does_not_model() {
        rejects(
            &prog(&[&[raw(0x20, 0, 0, 0, 0)], &ret0()]),
            0,
            "BPF_LD_[ABS|IND] instructions not allowed for this program type",
        );
        rejects(
            &prog(&[&[raw(0x85, 0, 2, 0, 7)], &ret0()]),
            0,
            "kfunc calls are not supported by the local verifier",
        );
    }

    #[test]
    fn rejects_programs_that_are_too_large() {
        let insns = prog(&[
            &[
                Insn::mov64_imm(0, 0),
                Insn::alu64_imm(ADD, 0, 1),
                Insn::jmp_imm(JNE, 0, 0, -2),
            ],
            &[Insn::exit()],
        ]);
        let e = verify(&insns, &env()).unwrap_err();
        assert_eq!(
            e.message,
            "BPF program is too large. Processed 1000001 insn"
        );
        assert!(e.insn == 1 || e.insn == 2, "{e}");
    }

    #[test]
    fn rejects_infinite_loops() {
        // The kernel's own example: the ctx pointer is never null, so insn 2 jumps to itself.
        let insns = [
            Insn::mov64_imm(0, 0),
            Insn::jmp_imm(JEQ, 1, 0, 1),
            Insn::ja(-1),
            Insn::exit(),
        ];
        rejects(&insns, 2, "infinite loop detected at insn 2");
        // The state comes back identical whatever the helper returned.
        let insns = [
            Insn::mov64_imm(0, 0),
            Insn::call(7),
            Insn::jmp_imm(JEQ, 0, 5, 2),
            Insn::mov64_imm(0, 0),
            Insn::ja(-4),
            Insn::exit(),
        ];
        rejects(&insns, 1, "infinite loop detected at insn 1");
        // may_goto bounds a loop for the kernel; both sides are explored here.
        accepts(&[
            Insn::mov64_imm(0, 0),
            raw(0xe5, 0, 0, 2, 0),
            Insn::alu64_imm(ADD, 0, 1),
            Insn::ja(-3),
            Insn::exit(),
        ]);
    }

    #[test]
    fn pruning_keeps_the_state_count_bounded() {
        // A chain of 30 unknown branches would be 2^30 paths without pruning.
        let mut insns = Vec::new();
        for _ in 0..30 {
            insns.extend([
                Insn::call(7),
                Insn::jmp_imm(JEQ, 0, 0, 1),
                Insn::mov64_imm(6, 1),
            ]);
        }
        insns.extend(ret0());
        let stats = accepts(&insns);
        assert!(stats.processed < 1_000, "{stats:?}");
        assert!(stats.total_states < 200, "{stats:?}");
    }

    /// Loads `insns` into the running kernel as a kprobe program (map index 0 becomes a real
    /// hash map) and returns whether it loaded and the verifier's log.
    fn kernel_load(insns: &[Insn]) -> (bool, String) {
        use std::ffi::CString;
        let name = CString::new("probe_test").unwrap();
        // SAFETY: plain libbpf calls with valid pointers and sizes.
        let map_fd = unsafe {
            libbpf_sys::bpf_map_create(
                libbpf_sys::BPF_MAP_TYPE_HASH,
                name.as_ptr(),
                16,
                8,
                16,
                std::ptr::null(),
            )
        };
        assert!(map_fd >= 0, "bpf_map_create failed: {map_fd}");
        let fixed: Vec<Insn> = insns
            .iter()
            .map(|i| {
                let mut i = *i;
                if i.code == 0x18 && i.src == PSEUDO_MAP_FD && i.imm == 0 {
                    i.imm = map_fd;
                }
                i
            })
            .collect();
        let bytes = crate::bpf::insn::encode_all(&fixed);
        let mut log = vec![0u8; 1 << 20];
        let license = CString::new("GPL").unwrap();
        let mut opts = libbpf_sys::bpf_prog_load_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
            log_level: 1,
            log_size: log.len() as u32,
            log_buf: log.as_mut_ptr().cast(),
            ..Default::default()
        };
        // SAFETY: `bytes` holds `fixed.len()` encoded instructions laid out as
        // `struct bpf_insn`; the log buffer outlives the call.
        let fd = unsafe {
            libbpf_sys::bpf_prog_load(
                libbpf_sys::BPF_PROG_TYPE_KPROBE,
                name.as_ptr(),
                license.as_ptr(),
                bytes.as_ptr().cast(),
                fixed.len() as _,
                &mut opts,
            )
        };
        let text = String::from_utf8_lossy(&log)
            .trim_end_matches('\0')
            .to_string();
        // SAFETY: closing descriptors this function opened.
        unsafe {
            if fd >= 0 {
                libc_close(fd);
            }
            libc_close(map_fd);
        }
        (fd >= 0, text)
    }

    extern "C" {
        #[link_name = "close"]
        fn libc_close(fd: i32) -> i32;
    }

    /// Needs root and a kernel with bpf(): compares verdicts and wording with the kernel's.
    #[test]
    #[ignore = "loads programs into the running kernel (root)"]
    fn kernel_agrees() {
        // x86-64 `struct pt_regs`, the kprobe context.
        let kprobe = VerifyEnv::new(168, 1);
        let lenient = VerifyEnv {
            allow_uninit_stack: true,
            ..kprobe
        };
        let rejected: Vec<Vec<Insn>> = vec![
            vec![Insn::exit()],
            vec![Insn::mov64_reg(0, 3), Insn::exit()],
            prog(&[&[Insn::mov64_imm(R10, 1)], &ret0()]),
            prog(&[&[Insn::store_imm(DW, R10, -520, 0)], &ret0()]),
            prog(&[&[Insn::load(DW, 2, R10, -520)], &ret0()]),
            prog(&[&[Insn::store_imm(DW, R10, -7, 0)], &ret0()]),
            prog(&[&[Insn::mov64_imm(0, 0), Insn::ja(40)], &[Insn::exit()]]),
            prog(&[&[raw(0xff, 0, 0, 0, 0)], &ret0()]),
            vec![Insn::mov64_imm(0, 0)],
            vec![Insn::load(DW, 0, 1, 168), Insn::exit()],
            prog(&[&[Insn::store_reg(DW, 1, 0, 1)], &ret0()]),
            prog(&[&[Insn::call(212)], &ret0()]),
            prog(&[&[raw(0x37, 1, 0, 0, 0)], &ret0()]),
            prog(&[&[raw(0x07, 1, 2, 0, 1)], &ret0()]),
            prog(&[&ret0(), &ret0()]),
            prog(&[
                &[Insn::mov64_reg(1, R10), Insn::alu64_imm(AND, 1, 7)],
                &ret0(),
            ]),
            prog(&[
                &[Insn::store_reg(DW, R10, -8, 1), Insn::load(W, 2, R10, -8)],
                &ret0(),
            ]),
            vec![
                Insn::mov64_imm(0, 0),
                Insn::jmp_imm(JEQ, 1, 0, 1),
                Insn::ja(-1),
                Insn::exit(),
            ],
        ];
        for insns in &rejected {
            let ours = verify(insns, &lenient).expect_err("we accept it");
            let (loaded, log) = kernel_load(insns);
            assert!(!loaded, "the kernel accepts what we reject: {ours}");
            assert!(
                log.contains(&ours.message),
                "kernel log lacks `{}`:\n{log}",
                ours.message
            );
        }
        let accepted = [
            counter_program(),
            prog(&[
                &[
                    Insn::mov64_imm(6, 0),
                    Insn::alu64_imm(ADD, 6, 1),
                    Insn::jmp_imm(JLT, 6, 10, -2),
                ],
                &ret0(),
            ]),
            // Root may read unwritten stack; with the default environment we refuse.
            vec![Insn::load(DW, 0, R10, -8), Insn::exit()],
        ];
        for insns in &accepted {
            verify(insns, &lenient).expect("we reject it");
            let (loaded, log) = kernel_load(insns);
            assert!(loaded, "the kernel rejects what we accept:\n{log}");
        }
        assert!(verify(&accepted[2], &kprobe).is_err());
    }
}
