//! Instruction selection: each IR instruction becomes a few machine instructions over
//! virtual registers; stack slots get their frame offsets here.

use super::{Label, MFunction, MInst, Reg, Src, FP};
use crate::bpf::insn::{alu, jmp, size};
use crate::ir::*;
use probe_lang::Span;

/// Selects machine instructions for `func`.
pub fn select(func: &Function) -> MFunction {
    let mut offsets = vec![];
    let mut frame = 0u32;
    for s in &func.slots {
        frame += s.size;
        offsets.push(-(frame as i32));
    }
    let mut cx = Isel {
        out: vec![],
        offsets,
        next_vreg: func.vregs,
        span: Span::default(),
    };
    let order = reachable(func);
    for (pos, &i) in order.iter().enumerate() {
        let block = &func.blocks[i];
        cx.span = block
            .insts
            .first()
            .map(|(_, s)| *s)
            .unwrap_or(block.term_span);
        cx.push(MInst::Label(Label(i as u32)));
        for (inst, span) in &block.insts {
            cx.span = *span;
            cx.inst(inst);
        }
        cx.span = block.term_span;
        let next = order.get(pos + 1).map(|&n| BlockId(n as u32));
        match &block.term {
            Terminator::Open | Terminator::Return(_) => {
                let v = match &block.term {
                    Terminator::Return(v) => *v,
                    _ => Operand::Imm(0),
                };
                cx.mov(Reg::Phys(0), v);
                cx.push(MInst::Exit);
            }
            Terminator::Jump(t) => {
                if Some(*t) != next {
                    cx.push(MInst::Ja { target: Label(t.0) });
                }
            }
            Terminator::Branch {
                cond,
                lhs,
                rhs,
                then,
                otherwise,
            } => {
                let (cond, target, fall) = if Some(*then) == next {
                    (cond.negate(), *otherwise, *then)
                } else {
                    (*cond, *then, *otherwise)
                };
                let rhs = cx.src(*rhs);
                cx.push(MInst::Jcc {
                    op: jmp_op(cond),
                    lhs: Reg::Virt(lhs.0),
                    rhs,
                    target: Label(target.0),
                });
                if Some(fall) != next {
                    cx.push(MInst::Ja {
                        target: Label(fall.0),
                    });
                }
            }
        }
    }
    MFunction {
        insts: cx.out,
        frame_size: frame,
        next_vreg: cx.next_vreg,
    }
}

/// The blocks reachable from the entry, in their original order (the kernel rejects
/// unreachable instructions).
fn reachable(func: &Function) -> Vec<usize> {
    let mut seen = vec![false; func.blocks.len()];
    let mut stack = vec![0usize];
    while let Some(b) = stack.pop() {
        if std::mem::replace(&mut seen[b], true) {
            continue;
        }
        match &func.blocks[b].term {
            Terminator::Jump(t) => stack.push(t.0 as usize),
            Terminator::Branch {
                then, otherwise, ..
            } => stack.extend([then.0 as usize, otherwise.0 as usize]),
            Terminator::Open | Terminator::Return(_) => {}
        }
    }
    (0..func.blocks.len()).filter(|&b| seen[b]).collect()
}

struct Isel {
    out: Vec<(MInst, Span)>,
    offsets: Vec<i32>,
    next_vreg: u32,
    span: Span,
}

fn jmp_op(c: CmpOp) -> u8 {
    match c {
        CmpOp::Eq => jmp::JEQ,
        CmpOp::Ne => jmp::JNE,
        CmpOp::Gt => jmp::JGT,
        CmpOp::Ge => jmp::JGE,
        CmpOp::Lt => jmp::JLT,
        CmpOp::Le => jmp::JLE,
        CmpOp::SGt => jmp::JSGT,
        CmpOp::SGe => jmp::JSGE,
        CmpOp::SLt => jmp::JSLT,
        CmpOp::SLe => jmp::JSLE,
    }
}

fn mem_size(s: MemSize) -> u8 {
    match s {
        MemSize::B => size::B,
        MemSize::H => size::H,
        MemSize::W => size::W,
        MemSize::DW => size::DW,
    }
}

fn v(r: VReg) -> Reg {
    Reg::Virt(r.0)
}

impl Isel {
    fn push(&mut self, i: MInst) {
        self.out.push((i, self.span));
    }

    fn temp(&mut self) -> Reg {
        self.next_vreg += 1;
        Reg::Virt(self.next_vreg - 1)
    }

    /// An operand usable as a source: immediates that do not fit 32 bits go to a register.
    fn src(&mut self, o: Operand) -> Src {
        match o {
            Operand::Reg(r) => Src::Reg(v(r)),
            Operand::Imm(i) => match i32::try_from(i) {
                Ok(i) => Src::Imm(i),
                Err(_) => {
                    let t = self.temp();
                    self.push(MInst::LdImm64 {
                        dst: t,
                        imm: i as u64,
                    });
                    Src::Reg(t)
                }
            },
        }
    }

    fn mov(&mut self, dst: Reg, o: Operand) {
        match o {
            Operand::Imm(i) if i32::try_from(i).is_err() => {
                self.push(MInst::LdImm64 { dst, imm: i as u64 })
            }
            o => {
                let src = self.src(o);
                self.push(MInst::Alu {
                    op: alu::MOV,
                    dst,
                    src,
                    off: 0,
                });
            }
        }
    }

    /// Base register and offset of an address.
    fn addr(&mut self, a: Addr) -> (Reg, i16) {
        match a {
            Addr::Stack { slot, off } => (FP, (self.offsets[slot.0 as usize] + off) as i16),
            Addr::Reg { base, off } => (v(base), off as i16),
        }
    }

    fn inst(&mut self, inst: &Inst) {
        match inst {
            Inst::Context { dst } => self.push(MInst::Alu {
                op: alu::MOV,
                dst: v(*dst),
                src: Src::Reg(Reg::Phys(1)),
                off: 0,
            }),
            Inst::Copy { dst, src } => self.mov(v(*dst), *src),
            Inst::Alu { op, dst, lhs, rhs } => {
                let (code, off) = match op {
                    AluOp::Add => (alu::ADD, 0),
                    AluOp::Sub => (alu::SUB, 0),
                    AluOp::Mul => (alu::MUL, 0),
                    AluOp::Div => (alu::DIV, 0),
                    AluOp::SDiv => (alu::DIV, 1),
                    AluOp::Mod => (alu::MOD, 0),
                    AluOp::SMod => (alu::MOD, 1),
                    AluOp::And => (alu::AND, 0),
                    AluOp::Or => (alu::OR, 0),
                    AluOp::Xor => (alu::XOR, 0),
                    AluOp::Lsh => (alu::LSH, 0),
                    AluOp::Rsh => (alu::RSH, 0),
                    AluOp::Arsh => (alu::ARSH, 0),
                };
                let mut rhs = self.src(*rhs);
                if rhs == Src::Reg(v(*dst)) && dst != lhs {
                    let t = self.temp();
                    self.push(MInst::Alu {
                        op: alu::MOV,
                        dst: t,
                        src: rhs,
                        off: 0,
                    });
                    rhs = Src::Reg(t);
                }
                self.push(MInst::Alu {
                    op: alu::MOV,
                    dst: v(*dst),
                    src: Src::Reg(v(*lhs)),
                    off: 0,
                });
                self.push(MInst::Alu {
                    op: code,
                    dst: v(*dst),
                    src: rhs,
                    off,
                });
            }
            Inst::Neg { dst, src } => {
                self.push(MInst::Alu {
                    op: alu::MOV,
                    dst: v(*dst),
                    src: Src::Reg(v(*src)),
                    off: 0,
                });
                self.push(MInst::Neg { dst: v(*dst) });
            }
            Inst::Load {
                dst,
                addr,
                size: sz,
                signed,
            } => {
                let (base, off) = self.addr(*addr);
                self.push(MInst::Load {
                    size: mem_size(*sz),
                    dst: v(*dst),
                    base,
                    off,
                });
                let bits = 64 - 8 * (*sz as i32);
                if *signed && bits > 0 {
                    self.push(MInst::Alu {
                        op: alu::LSH,
                        dst: v(*dst),
                        src: Src::Imm(bits),
                        off: 0,
                    });
                    self.push(MInst::Alu {
                        op: alu::ARSH,
                        dst: v(*dst),
                        src: Src::Imm(bits),
                        off: 0,
                    });
                }
            }
            Inst::Store {
                addr,
                src,
                size: sz,
            } => {
                let (base, off) = self.addr(*addr);
                let src = self.src(*src);
                self.push(MInst::Store {
                    size: mem_size(*sz),
                    base,
                    off,
                    src,
                });
            }
            Inst::AtomicAdd { addr, src } => {
                let (base, off) = self.addr(*addr);
                self.push(MInst::AtomicAdd {
                    base,
                    off,
                    src: v(*src),
                });
            }
            Inst::StackAddr { dst, slot, off } => {
                let at = self.offsets[slot.0 as usize] + off;
                self.push(MInst::Alu {
                    op: alu::MOV,
                    dst: v(*dst),
                    src: Src::Reg(FP),
                    off: 0,
                });
                self.push(MInst::Alu {
                    op: alu::ADD,
                    dst: v(*dst),
                    src: Src::Imm(at),
                    off: 0,
                });
            }
            Inst::Arg { dst, n } => self.push(MInst::Alu {
                op: alu::MOV,
                dst: v(*dst),
                src: Src::Reg(Reg::Phys(*n)),
                off: 0,
            }),
            Inst::FuncAddr { dst, func } => self.push(MInst::LdFunc {
                dst: v(*dst),
                func: *func,
            }),
            Inst::MapRef { dst, map } => self.push(MInst::LdMap {
                dst: v(*dst),
                map: *map,
            }),
            Inst::Call { dst, helper, args } => {
                for (i, a) in args.iter().enumerate() {
                    self.mov(Reg::Phys(i as u8 + 1), *a);
                }
                self.push(MInst::Call {
                    helper: *helper,
                    nargs: args.len() as u8,
                });
                if let Some(d) = dst {
                    self.push(MInst::Alu {
                        op: alu::MOV,
                        dst: v(*d),
                        src: Src::Reg(Reg::Phys(0)),
                        off: 0,
                    });
                }
            }
        }
    }
}
