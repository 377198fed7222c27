//! Values too big for the 512-byte BPF stack: when a function's frame does not fit, its
//! largest stack slots move, one by one, to an area of the per-CPU scratch map, which the
//! function looks up once on entry.

use crate::codegen::{frame_size, STACK_LIMIT};
use crate::ir::*;
use crate::lower::{helper, Scratch};
use probe_lang::{Diagnostic, Span};

/// Makes `func`'s frame fit the stack, moving slots to `scratch` as needed; `span` is
/// where the error points when even that is not enough.
pub fn fit_frame(func: &mut Function, scratch: Scratch, span: Span) -> Result<(), Diagnostic> {
    let mut size = frame_size(func);
    if size <= STACK_LIMIT {
        return Ok(());
    }
    let reaches_entry = func
        .blocks
        .iter()
        .any(|b| targets(&b.term).contains(&BlockId(0)));
    let mut order: Vec<usize> = (0..func.slots.len()).collect();
    order.sort_by_key(|&s| std::cmp::Reverse(func.slots[s].size));
    let mut moved = vec![];
    for slot in order {
        // Small slots are not worth a map access each; the entry must not be a jump target.
        if reaches_entry || func.slots[slot].size < 16 {
            break;
        }
        moved.push(SlotId(slot as u32));
        let mut candidate = func.clone();
        move_to_scratch(&mut candidate, &moved, 0);
        size = frame_size(&candidate);
        if size <= STACK_LIMIT {
            let area = moved
                .iter()
                .map(|s| func.slots[s.0 as usize].size)
                .sum::<u32>();
            let base = scratch.used.get();
            scratch.used.set(base + area);
            move_to_scratch(func, &moved, base as i32);
            // The lookup's result is a map reference: its index is the scratch map's.
            for b in &mut func.blocks {
                for (inst, _) in &mut b.insts {
                    if let Inst::MapRef { map, .. } = inst {
                        if *map == u32::MAX {
                            *map = scratch.map;
                        }
                    }
                }
            }
            return Ok(());
        }
    }
    Err(Diagnostic::error(
        span,
        format!(
            "this probe needs {size} bytes of stack, more than the {STACK_LIMIT} bytes BPF allows"
        ),
    )
    .with_label("in this probe")
    .with_note("keep fewer values live at once: split the probe, or keep some values in maps"))
}

/// The blocks a terminator may continue in.
fn targets(t: &Terminator) -> Vec<BlockId> {
    match t {
        Terminator::Jump(b) => vec![*b],
        Terminator::Branch {
            then, otherwise, ..
        } => vec![*then, *otherwise],
        Terminator::Open | Terminator::Return(_) => vec![],
    }
}

/// Rewrites `func` so that the `moved` slots live at `base` onwards in the scratch map's
/// value (its map reference is `u32::MAX` until the caller names the map).
fn move_to_scratch(func: &mut Function, moved: &[SlotId], base: i32) {
    let mut at = base;
    let mut place = std::collections::HashMap::new();
    for s in moved {
        place.insert(s.0, at);
        at += func.slots[s.0 as usize].size as i32;
        func.slots[s.0 as usize].size = 0;
    }
    let vreg = |func: &mut Function| {
        func.vregs += 1;
        VReg(func.vregs - 1)
    };
    let ptr = vreg(func);
    let (m, k) = (vreg(func), vreg(func));
    func.slots.push(Slot { size: 8 });
    let key = SlotId(func.slots.len() as u32 - 1);
    // The entry keeps its argument reads, then looks the value up; the rest of it moves to
    // a new block that runs once the pointer is known not to be null.
    let entry = &mut func.blocks[0];
    let span = entry.term_span;
    let args = entry
        .insts
        .iter()
        .take_while(|(i, _)| matches!(i, Inst::Context { .. } | Inst::Arg { .. }))
        .count();
    let rest: Vec<(Inst, Span)> = entry.insts.drain(args..).collect();
    let term = std::mem::replace(&mut entry.term, Terminator::Open);
    let term_span = entry.term_span;
    entry.insts.extend(
        [
            Inst::Store {
                addr: Addr::Stack { slot: key, off: 0 },
                src: Operand::Imm(0),
                size: MemSize::DW,
            },
            Inst::MapRef {
                dst: m,
                map: u32::MAX,
            },
            Inst::StackAddr {
                dst: k,
                slot: key,
                off: 0,
            },
            Inst::Call {
                dst: Some(ptr),
                helper: helper::MAP_LOOKUP_ELEM,
                args: vec![Operand::Reg(m), Operand::Reg(k)],
            },
        ]
        .map(|i| (i, span)),
    );
    let body = BlockId(func.blocks.len() as u32);
    let missing = BlockId(func.blocks.len() as u32 + 1);
    func.blocks[0].term = Terminator::Branch {
        cond: CmpOp::Eq,
        lhs: ptr,
        rhs: Operand::Imm(0),
        then: missing,
        otherwise: body,
    };
    func.blocks.push(BasicBlock {
        insts: rest,
        term,
        term_span,
    });
    func.blocks.push(BasicBlock {
        insts: vec![],
        term: Terminator::Return(Operand::Imm(0)),
        term_span,
    });
    let addr = |a: &mut Addr| {
        if let Addr::Stack { slot, off } = *a {
            if let Some(p) = place.get(&slot.0) {
                *a = Addr::Reg {
                    base: ptr,
                    off: p + off,
                };
            }
        }
    };
    for b in &mut func.blocks {
        for (inst, _) in &mut b.insts {
            match inst {
                Inst::Load { addr: a, .. }
                | Inst::Store { addr: a, .. }
                | Inst::AtomicAdd { addr: a, .. } => addr(a),
                Inst::StackAddr { dst, slot, off } => {
                    if let Some(p) = place.get(&slot.0) {
                        *inst = Inst::Alu {
                            op: AluOp::Add,
                            dst: *dst,
                            lhs: ptr,
                            rhs: Operand::Imm(i64::from(p + *off)),
                        };
                    }
                }
                _ => {}
            }
        }
    }
}
