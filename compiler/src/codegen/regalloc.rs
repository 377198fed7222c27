//! Register allocation by graph colouring over liveness, with spilling to the stack.
//!
//! Physical registers take part as pre-coloured nodes: a helper call defines r0-r5 (it
//! clobbers them), so a value live across a call interferes with r0-r5 and lands in one of
//! the callee-saved r6-r9. r10 is the read-only frame pointer and is never allocated.

use super::{MFunction, MInst, Reg, Src, FP};
use crate::bpf::insn::{alu, size};
use std::collections::{HashMap, HashSet};

/// Order in which free registers are tried: caller-saved first, keeping r6-r9 for values
/// that live across calls.
const PREFERENCE: [u8; 10] = [1, 2, 3, 4, 5, 0, 6, 7, 8, 9];

/// Replaces every virtual register of `m` with a physical one, spilling to new stack slots
/// where ten registers are not enough.
pub fn allocate(m: &mut MFunction) {
    loop {
        let graph = interference(m);
        match colour(m, &graph) {
            Ok(colours) => {
                for (inst, _) in &mut m.insts {
                    rewrite(inst, &mut |r| match r {
                        Reg::Virt(v) => Reg::Phys(colours[&v]),
                        p => p,
                    });
                }
                return;
            }
            Err(spill) => spill_vreg(m, spill),
        }
    }
}

/// Registers read and written by one instruction.
pub fn uses_defs(i: &MInst) -> (Vec<Reg>, Vec<Reg>) {
    let src = |s: &Src| match s {
        Src::Reg(r) => vec![*r],
        Src::Imm(_) => vec![],
    };
    match i {
        MInst::Alu {
            op, dst, src: s, ..
        } if *op == alu::MOV => (src(s), vec![*dst]),
        MInst::Alu { dst, src: s, .. } => ([vec![*dst], src(s)].concat(), vec![*dst]),
        MInst::Neg { dst } => (vec![*dst], vec![*dst]),
        MInst::Load { dst, base, .. } => (vec![*base], vec![*dst]),
        MInst::Store { base, src: s, .. } => ([vec![*base], src(s)].concat(), vec![]),
        MInst::AtomicAdd { base, src, .. } => (vec![*base, *src], vec![]),
        MInst::LdImm64 { dst, .. } | MInst::LdMap { dst, .. } | MInst::LdFunc { dst, .. } => {
            (vec![], vec![*dst])
        }
        MInst::Call { nargs, .. } => (
            (1..=*nargs).map(Reg::Phys).collect(),
            (0..=5).map(Reg::Phys).collect(),
        ),
        MInst::Jcc { lhs, rhs, .. } => ([vec![*lhs], src(rhs)].concat(), vec![]),
        MInst::Ja { .. } | MInst::Label(_) => (vec![], vec![]),
        MInst::Exit => (vec![Reg::Phys(0)], vec![]),
    }
}

/// Successors of instruction `i` in the control flow.
fn successors(m: &MFunction, labels: &HashMap<u32, usize>, i: usize) -> Vec<usize> {
    match &m.insts[i].0 {
        MInst::Exit => vec![],
        MInst::Ja { target } => vec![labels[&target.0]],
        MInst::Jcc { target, .. } => vec![i + 1, labels[&target.0]],
        _ if i + 1 < m.insts.len() => vec![i + 1],
        _ => vec![],
    }
}

type Graph = HashMap<Reg, HashSet<Reg>>;

/// The interference graph: two registers interfere when one is written while the other
/// is live afterwards (a move's source does not interfere with its destination).
fn interference(m: &MFunction) -> Graph {
    let labels: HashMap<u32, usize> = m
        .insts
        .iter()
        .enumerate()
        .filter_map(|(i, (x, _))| {
            if let MInst::Label(l) = x {
                Some((l.0, i))
            } else {
                None
            }
        })
        .collect();
    let n = m.insts.len();
    let ud: Vec<_> = m.insts.iter().map(|(i, _)| uses_defs(i)).collect();
    let succ: Vec<_> = (0..n).map(|i| successors(m, &labels, i)).collect();
    let mut live_in: Vec<HashSet<Reg>> = vec![HashSet::new(); n];
    let mut live_out: Vec<HashSet<Reg>> = vec![HashSet::new(); n];
    let mut changed = true;
    while changed {
        changed = false;
        for i in (0..n).rev() {
            let mut out = HashSet::new();
            for &s in &succ[i] {
                out.extend(live_in[s].iter().copied());
            }
            let mut inn: HashSet<Reg> = out
                .iter()
                .copied()
                .filter(|r| !ud[i].1.contains(r))
                .collect();
            inn.extend(ud[i].0.iter().copied());
            if inn != live_in[i] || out != live_out[i] {
                live_in[i] = inn;
                live_out[i] = out;
                changed = true;
            }
        }
    }
    let mut g: Graph = HashMap::new();
    for i in 0..n {
        let move_src = match &m.insts[i].0 {
            MInst::Alu {
                op,
                src: Src::Reg(s),
                ..
            } if *op == alu::MOV => Some(*s),
            _ => None,
        };
        for d in &ud[i].1 {
            g.entry(*d).or_default();
            for l in &live_out[i] {
                if l != d && Some(*l) != move_src {
                    g.entry(*d).or_default().insert(*l);
                    g.entry(*l).or_default().insert(*d);
                }
            }
        }
        for u in &ud[i].0 {
            g.entry(*u).or_default();
        }
    }
    g
}

/// Greedy colouring in order of first appearance, preferring the register a move
/// connects it to. On failure, names the virtual register to spill.
fn colour(m: &MFunction, g: &Graph) -> Result<HashMap<u32, u8>, u32> {
    let mut order = vec![];
    let mut hints: HashMap<u32, Vec<Reg>> = HashMap::new();
    for (inst, _) in &m.insts {
        let (u, d) = uses_defs(inst);
        for r in u.iter().chain(&d) {
            if let Reg::Virt(v) = r {
                if !order.contains(v) {
                    order.push(*v);
                }
            }
        }
        if let MInst::Alu {
            op,
            dst,
            src: Src::Reg(s),
            ..
        } = inst
        {
            if *op == alu::MOV {
                if let Reg::Virt(v) = dst {
                    hints.entry(*v).or_default().push(*s);
                }
                if let Reg::Virt(v) = s {
                    hints.entry(*v).or_default().push(*dst);
                }
            }
        }
    }
    let mut colours: HashMap<u32, u8> = HashMap::new();
    let phys = |r: &Reg, colours: &HashMap<u32, u8>| match r {
        Reg::Phys(p) => Some(*p),
        Reg::Virt(v) => colours.get(v).copied(),
    };
    for v in order {
        let taken: HashSet<u8> = g
            .get(&Reg::Virt(v))
            .into_iter()
            .flatten()
            .filter_map(|r| phys(r, &colours))
            .collect();
        let hinted = hints
            .get(&v)
            .into_iter()
            .flatten()
            .filter_map(|r| phys(r, &colours))
            .find(|p| *p < 10 && !taken.contains(p));
        let chosen = hinted.or_else(|| PREFERENCE.iter().copied().find(|p| !taken.contains(p)));
        match chosen {
            Some(p) => {
                colours.insert(v, p);
            }
            None => return Err(v),
        }
    }
    Ok(colours)
}

/// Moves virtual register `v` to a new 8-byte stack slot: each use loads it into a fresh
/// register just before, each definition stores it just after.
fn spill_vreg(m: &mut MFunction, v: u32) {
    m.frame_size += 8;
    let off = -(m.frame_size as i16);
    let mut out = Vec::with_capacity(m.insts.len());
    for (mut inst, span) in std::mem::take(&mut m.insts) {
        let (uses, defs) = uses_defs(&inst);
        let target = Reg::Virt(v);
        if !uses.contains(&target) && !defs.contains(&target) {
            out.push((inst, span));
            continue;
        }
        let tmp = Reg::Virt(m.next_vreg);
        m.next_vreg += 1;
        if uses.contains(&target) {
            out.push((
                MInst::Load {
                    size: size::DW,
                    dst: tmp,
                    base: FP,
                    off,
                },
                span,
            ));
        }
        rewrite(&mut inst, &mut |r| if r == target { tmp } else { r });
        out.push((inst, span));
        if defs.contains(&target) {
            out.push((
                MInst::Store {
                    size: size::DW,
                    base: FP,
                    off,
                    src: Src::Reg(tmp),
                },
                span,
            ));
        }
    }
    m.insts = out;
}

/// Applies `f` to every register operand of `i`.
fn rewrite(i: &mut MInst, f: &mut dyn FnMut(Reg) -> Reg) {
    let s = |x: &mut Src, f: &mut dyn FnMut(Reg) -> Reg| {
        if let Src::Reg(r) = x {
            *r = f(*r);
        }
    };
    match i {
        MInst::Alu { dst, src, .. } => {
            *dst = f(*dst);
            s(src, f);
        }
        MInst::Neg { dst } => *dst = f(*dst),
        MInst::Load { dst, base, .. } => {
            *dst = f(*dst);
            *base = f(*base);
        }
        MInst::Store { base, src, .. } => {
            *base = f(*base);
            s(src, f);
        }
        MInst::AtomicAdd { base, src, .. } => {
            *base = f(*base);
            *src = f(*src);
        }
        MInst::LdImm64 { dst, .. } | MInst::LdMap { dst, .. } | MInst::LdFunc { dst, .. } => {
            *dst = f(*dst)
        }
        MInst::Jcc { lhs, rhs, .. } => {
            *lhs = f(*lhs);
            s(rhs, f);
        }
        MInst::Call { .. } | MInst::Ja { .. } | MInst::Exit | MInst::Label(_) => {}
    }
}
