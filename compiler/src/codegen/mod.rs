//! From IR to eBPF: instruction selection over virtual registers ([`isel`]), register
//! allocation and spilling ([`regalloc`]), then frame layout and encoding ([`emit`]).

pub mod emit;
pub mod isel;
pub mod regalloc;

use crate::bpf::Insn;
use crate::ir::Function;
use probe_lang::{Diagnostic, Span};

/// Bytes of stack a BPF program may use.
pub const STACK_LIMIT: u32 = 512;

/// A register operand before allocation: a physical BPF register or a virtual one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reg {
    Phys(u8),
    Virt(u32),
}

/// The frame pointer.
pub const FP: Reg = Reg::Phys(10);

/// A register or a 32-bit immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    Reg(Reg),
    Imm(i32),
}

/// A jump target inside one function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(pub u32);

/// A machine instruction over (possibly virtual) registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MInst {
    /// 64-bit ALU op (`alu::*`); for `MOV` the destination is not read. `off` is 1 for the
    /// signed division and modulo.
    Alu {
        op: u8,
        dst: Reg,
        src: Src,
        off: i16,
    },
    /// `dst = -dst`.
    Neg { dst: Reg },
    /// `dst = *(size *)(base + off)`.
    Load {
        size: u8,
        dst: Reg,
        base: Reg,
        off: i16,
    },
    /// `*(size *)(base + off) = src`.
    Store {
        size: u8,
        base: Reg,
        off: i16,
        src: Src,
    },
    /// `lock *(u64 *)(base + off) += src`.
    AtomicAdd { base: Reg, off: i16, src: Reg },
    /// `dst = imm64`.
    LdImm64 { dst: Reg, imm: u64 },
    /// `dst = map` (index in the object's map table).
    LdMap { dst: Reg, map: u32 },
    /// `dst = &function` (its index in the program; linked by `link_functions`).
    LdFunc { dst: Reg, func: u32 },
    /// Helper call with `nargs` arguments in r1..r5; result in r0; clobbers r0-r5.
    Call { helper: u32, nargs: u8 },
    /// `if lhs op rhs goto target`.
    Jcc {
        op: u8,
        lhs: Reg,
        rhs: Src,
        target: Label,
    },
    /// `goto target`.
    Ja { target: Label },
    /// Return r0.
    Exit,
    /// A jump target.
    Label(Label),
}

/// A machine function: instructions with their source spans, and the stack used so far.
#[derive(Clone, Debug, PartialEq)]
pub struct MFunction {
    pub insts: Vec<(MInst, Span)>,
    /// Bytes of stack in use, below the frame pointer.
    pub frame_size: u32,
    pub next_vreg: u32,
}

/// Translates a program's functions (its body, then its callbacks) and joins them: each
/// function reference becomes the distance the kernel expects. Returns the code, the span
/// of each instruction, and where each function starts.
#[allow(clippy::type_complexity)]
pub fn compile_program(
    funcs: &[Function],
    span: Span,
) -> Result<(Vec<Insn>, Vec<Span>, Vec<usize>), Diagnostic> {
    let mut insns = vec![];
    let mut spans = vec![];
    let mut starts = vec![];
    for f in funcs {
        let (code, code_spans) = compile_function(f, span)?;
        starts.push(insns.len());
        insns.extend(code);
        spans.extend(code_spans);
    }
    for (pc, i) in insns.iter_mut().enumerate() {
        if i.is_func_ref() {
            i.imm = starts[i.imm as usize] as i32 - pc as i32 - 1;
        }
    }
    Ok((insns, spans, starts))
}

/// Bytes of stack `func` needs once its registers are allocated (spills included).
pub fn frame_size(func: &Function) -> u32 {
    let mut m = isel::select(func);
    regalloc::allocate(&mut m);
    m.frame_size
}

/// Translates a function to eBPF instructions, with the source span of each instruction.
pub fn compile_function(func: &Function, span: Span) -> Result<(Vec<Insn>, Vec<Span>), Diagnostic> {
    let mut m = isel::select(func);
    regalloc::allocate(&mut m);
    if m.frame_size > STACK_LIMIT {
        return Err(Diagnostic::error(
            span,
            format!(
                "this probe needs {} bytes of stack, more than the {STACK_LIMIT} bytes BPF allows",
                m.frame_size
            ),
        )
        .with_label("in this probe")
        .with_note("use fewer or shorter strings and keys in one probe"));
    }
    Ok(emit::emit(&m))
}
