//! The intermediate representation: a typed-by-construction, register-based IR over virtual
//! registers, with explicit stack slots and BPF-aware operations (helper calls, map
//! references, the probe's context pointer).

use probe_lang::Span;
use std::fmt;

/// A virtual register holding a 64-bit value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VReg(pub u32);

/// A stack slot of the function's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotId(pub u32);

/// A basic block of the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockId(pub u32);

/// A register or a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A virtual register.
    Reg(VReg),
    /// A constant.
    Imm(i64),
}

/// Width of a memory access, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemSize {
    /// One byte.
    B = 1,
    /// Two bytes.
    H = 2,
    /// Four bytes.
    W = 4,
    /// Eight bytes.
    DW = 8,
}

impl MemSize {
    /// The access size for `bytes` (1, 2, 4 or 8).
    pub fn of(bytes: u32) -> MemSize {
        match bytes {
            1 => MemSize::B,
            2 => MemSize::H,
            4 => MemSize::W,
            _ => MemSize::DW,
        }
    }
}

/// A memory address: a stack slot or a pointer in a register, plus a constant offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addr {
    Stack { slot: SlotId, off: i32 },
    Reg { base: VReg, off: i32 },
}

impl Addr {
    /// The same address `by` bytes further.
    pub fn offset(self, by: i32) -> Addr {
        match self {
            Addr::Stack { slot, off } => Addr::Stack {
                slot,
                off: off + by,
            },
            Addr::Reg { base, off } => Addr::Reg {
                base,
                off: off + by,
            },
        }
    }
}

/// 64-bit arithmetic and bitwise operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// Unsigned `/` (x / 0 is 0).
    Div,
    /// Signed `/`.
    SDiv,
    /// Unsigned `%` (x % 0 is x).
    Mod,
    /// Signed `%`.
    SMod,
    /// `&`
    And,
    /// `|`
    Or,
    /// `^`
    Xor,
    /// `<<`
    Lsh,
    /// Logical `>>`.
    Rsh,
    /// Arithmetic `>>`.
    Arsh,
}

/// Comparisons of conditional branches; `S*` compare as signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// Unsigned `>`.
    Gt,
    /// Unsigned `>=`.
    Ge,
    /// Unsigned `<`.
    Lt,
    /// Unsigned `<=`.
    Le,
    /// Signed `>`.
    SGt,
    /// Signed `>=`.
    SGe,
    /// Signed `<`.
    SLt,
    /// Signed `<=`.
    SLe,
}

impl CmpOp {
    /// The comparison that holds exactly when this one does not.
    pub fn negate(self) -> CmpOp {
        use CmpOp::*;
        match self {
            Eq => Ne,
            Ne => Eq,
            Gt => Le,
            Ge => Lt,
            Lt => Ge,
            Le => Gt,
            SGt => SLe,
            SGe => SLt,
            SLt => SGe,
            SLe => SGt,
        }
    }
}

/// One IR instruction.
#[derive(Clone, Debug, PartialEq)]
pub enum Inst {
    /// `dst = ctx`: the program's context pointer, valid in the entry block only.
    Context { dst: VReg },
    /// `dst = src`.
    Copy { dst: VReg, src: Operand },
    /// `dst = lhs op rhs`.
    Alu {
        op: AluOp,
        dst: VReg,
        lhs: VReg,
        rhs: Operand,
    },
    /// `dst = -src`.
    Neg { dst: VReg, src: VReg },
    /// `dst = *(size *)addr`, sign-extended when `signed`.
    Load {
        dst: VReg,
        addr: Addr,
        size: MemSize,
        signed: bool,
    },
    /// `*(size *)addr = src`.
    Store {
        addr: Addr,
        src: Operand,
        size: MemSize,
    },
    /// `*(u64 *)addr += src`, atomically.
    AtomicAdd { addr: Addr, src: VReg },
    /// `dst = &slot + off`.
    StackAddr { dst: VReg, slot: SlotId, off: i32 },
    /// `dst = map` (the index in the object's map table).
    MapRef { dst: VReg, map: u32 },
    /// `dst` = argument `n` (1 to 5) of a callback, valid in the entry block only.
    Arg { dst: VReg, n: u8 },
    /// `dst` = the address of function `func` of the same program (a callback; the
    /// probe's own body is function 0).
    FuncAddr { dst: VReg, func: u32 },
    /// `dst = helper(args...)`.
    Call {
        dst: Option<VReg>,
        helper: u32,
        args: Vec<Operand>,
    },
}

/// How a basic block ends.
#[derive(Clone, Debug, PartialEq)]
pub enum Terminator {
    /// Not yet terminated (only while building).
    Open,
    /// Continue in another block.
    Jump(BlockId),
    Branch {
        cond: CmpOp,
        lhs: VReg,
        rhs: Operand,
        then: BlockId,
        otherwise: BlockId,
    },
    Return(Operand),
}

/// A straight-line sequence of instructions and its terminator, each with its source span.
#[derive(Clone, Debug, PartialEq)]
pub struct BasicBlock {
    /// The instructions, each with the source it came from.
    pub insts: Vec<(Inst, Span)>,
    /// How the block ends.
    pub term: Terminator,
    /// The source the terminator came from.
    pub term_span: Span,
}

/// A stack slot: `size` bytes, 8-aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Bytes, a multiple of 8.
    pub size: u32,
}

/// One BPF program in IR form.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// The program name.
    pub name: String,
    /// The blocks; the first is the entry.
    pub blocks: Vec<BasicBlock>,
    /// The stack slots.
    pub slots: Vec<Slot>,
    /// How many virtual registers are in use.
    pub vregs: u32,
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Reg(r) => write!(f, "v{}", r.0),
            Operand::Imm(i) => write!(f, "{i}"),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Stack { slot, off } => write!(f, "[s{} + {off}]", slot.0),
            Addr::Reg { base, off } => write!(f, "[v{} + {off}]", base.0),
        }
    }
}

impl fmt::Display for Inst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inst::Context { dst } => write!(f, "v{} = ctx", dst.0),
            Inst::Copy { dst, src } => write!(f, "v{} = {src}", dst.0),
            Inst::Alu { op, dst, lhs, rhs } => write!(f, "v{} = {:?} v{}, {rhs}", dst.0, op, lhs.0),
            Inst::Neg { dst, src } => write!(f, "v{} = neg v{}", dst.0, src.0),
            Inst::Load {
                dst,
                addr,
                size,
                signed,
            } => {
                write!(
                    f,
                    "v{} = load.{}{} {addr}",
                    dst.0,
                    if *signed { "s" } else { "u" },
                    *size as u32 * 8
                )
            }
            Inst::Store { addr, src, size } => {
                write!(f, "store.{} {addr}, {src}", *size as u32 * 8)
            }
            Inst::AtomicAdd { addr, src } => write!(f, "atomic_add.64 {addr}, v{}", src.0),
            Inst::StackAddr { dst, slot, off } => write!(f, "v{} = &s{} + {off}", dst.0, slot.0),
            Inst::MapRef { dst, map } => write!(f, "v{} = map#{map}", dst.0),
            Inst::Arg { dst, n } => write!(f, "v{} = arg{n}", dst.0),
            Inst::FuncAddr { dst, func } => write!(f, "v{} = &fn{func}", dst.0),
            Inst::Call { dst, helper, args } => {
                if let Some(d) = dst {
                    write!(f, "v{} = ", d.0)?;
                }
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                write!(f, "call #{helper}({})", args.join(", "))
            }
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "fn {}:", self.name)?;
        for (i, s) in self.slots.iter().enumerate() {
            writeln!(f, "  s{i}: {} bytes", s.size)?;
        }
        for (i, b) in self.blocks.iter().enumerate() {
            writeln!(f, "b{i}:")?;
            for (inst, _) in &b.insts {
                writeln!(f, "  {inst}")?;
            }
            match &b.term {
                Terminator::Open => writeln!(f, "  <open>")?,
                Terminator::Jump(t) => writeln!(f, "  jump b{}", t.0)?,
                Terminator::Branch {
                    cond,
                    lhs,
                    rhs,
                    then,
                    otherwise,
                } => writeln!(
                    f,
                    "  if v{} {:?} {rhs} then b{} else b{}",
                    lhs.0, cond, then.0, otherwise.0
                )?,
                Terminator::Return(v) => writeln!(f, "  return {v}")?,
            }
        }
        Ok(())
    }
}
