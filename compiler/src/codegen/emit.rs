//! Encoding: allocated machine instructions to eBPF, with jump offsets resolved.

use super::{MFunction, MInst, Reg, Src};
use crate::bpf::insn::{alu, class, size, source, Insn};
use probe_lang::Span;
use std::collections::HashMap;

fn r(reg: Reg) -> u8 {
    match reg {
        Reg::Phys(p) => p,
        Reg::Virt(v) => panic!("virtual register v{v} survived register allocation"),
    }
}

/// Encodes an allocated function; returns the instructions and each one's source span.
pub fn emit(m: &MFunction) -> (Vec<Insn>, Vec<Span>) {
    let is_nop = |i: &MInst| matches!(i, MInst::Alu { op, dst, src: Src::Reg(s), .. } if *op == alu::MOV && dst == s);
    // First pass: the instruction index of every label.
    let mut labels = HashMap::new();
    let mut pc = 0usize;
    for (i, _) in &m.insts {
        match i {
            MInst::Label(l) => {
                labels.insert(l.0, pc);
            }
            MInst::LdImm64 { .. } | MInst::LdMap { .. } | MInst::LdFunc { .. } => pc += 2,
            i if is_nop(i) => {}
            _ => pc += 1,
        }
    }
    let mut out = vec![];
    let mut spans = vec![];
    for (i, span) in &m.insts {
        if is_nop(i) {
            continue;
        }
        let here = out.len() as i64;
        let rel = |target: u32| (labels[&target] as i64 - here - 1) as i16;
        let mut push = |x: Insn| {
            out.push(x);
            spans.push(*span);
        };
        match *i {
            MInst::Label(_) => {}
            MInst::Alu {
                op,
                dst,
                src: Src::Imm(imm),
                off,
            } => push(Insn {
                code: class::ALU64 | op | source::K,
                dst: r(dst),
                src: 0,
                off,
                imm,
            }),
            MInst::Alu {
                op,
                dst,
                src: Src::Reg(s),
                off,
            } => push(Insn {
                code: class::ALU64 | op | source::X,
                dst: r(dst),
                src: r(s),
                off,
                imm: 0,
            }),
            MInst::Neg { dst } => push(Insn {
                code: class::ALU64 | alu::NEG,
                dst: r(dst),
                src: 0,
                off: 0,
                imm: 0,
            }),
            MInst::Load {
                size: sz,
                dst,
                base,
                off,
            } => push(Insn::load(sz, r(dst), r(base), off)),
            MInst::Store {
                size: sz,
                base,
                off,
                src: Src::Imm(imm),
            } => push(Insn::store_imm(sz, r(base), off, imm)),
            MInst::Store {
                size: sz,
                base,
                off,
                src: Src::Reg(s),
            } => push(Insn::store_reg(sz, r(base), off, r(s))),
            MInst::AtomicAdd { base, off, src } => {
                push(Insn::atomic_add(size::DW, r(base), off, r(src)))
            }
            MInst::LdImm64 { dst, imm } => {
                Insn::ld_imm64(r(dst), imm).into_iter().for_each(&mut push)
            }
            // The function's index for now; `link_functions` makes it relative.
            MInst::LdFunc { dst, func } => Insn::ld_func(r(dst), func as i32)
                .into_iter()
                .for_each(&mut push),
            MInst::LdMap { dst, map } => Insn::ld_map_fd(r(dst), map as i32)
                .into_iter()
                .for_each(&mut push),
            MInst::Call { helper, .. } => push(Insn::call(helper as i32)),
            MInst::Jcc {
                op,
                lhs,
                rhs: Src::Imm(imm),
                target,
            } => push(Insn::jmp_imm(op, r(lhs), imm, rel(target.0))),
            MInst::Jcc {
                op,
                lhs,
                rhs: Src::Reg(s),
                target,
            } => push(Insn::jmp_reg(op, r(lhs), r(s), rel(target.0))),
            MInst::Ja { target } => push(Insn::ja(rel(target.0))),
            MInst::Exit => push(Insn::exit()),
        }
    }
    (out, spans)
}
