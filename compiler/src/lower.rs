//! Lowering of a checked probe body to IR.

use crate::builtins::BuiltinLowering;
use crate::ir::*;
use crate::program::{EventArg, EventKind, MapMeta};
use probe_lang::ast::*;
use probe_lang::check::{map_display_name, CheckedProbe};
use probe_lang::types::Type;
use probe_lang::{AttachKind, Diagnostic, Span};
use std::collections::HashMap;

/// BPF helper numbers the compiler emits.
pub mod helper {
    pub const MAP_LOOKUP_ELEM: u32 = 1;
    pub const MAP_UPDATE_ELEM: u32 = 2;
    pub const MAP_DELETE_ELEM: u32 = 3;
    pub const PROBE_READ: u32 = 4;
    pub const GET_CURRENT_TASK: u32 = 35;
    pub const PROBE_READ_USER: u32 = 112;
    pub const PROBE_READ_KERNEL: u32 = 113;
    pub const PROBE_READ_USER_STR: u32 = 114;
    pub const KTIME_GET_NS: u32 = 5;
    pub const GET_SMP_PROCESSOR_ID: u32 = 8;
    pub const GET_CURRENT_PID_TGID: u32 = 14;
    pub const GET_CURRENT_COMM: u32 = 16;
    pub const RINGBUF_RESERVE: u32 = 131;
    pub const RINGBUF_SUBMIT: u32 = 132;
    pub const FOR_EACH_MAP_ELEM: u32 = 164;
    pub const GET_PRANDOM_U32: u32 = 7;
    pub const GET_STACKID: u32 = 27;
    pub const GET_CURRENT_UID_GID: u32 = 15;
    pub const GET_NUMA_NODE_ID: u32 = 42;
    pub const GET_CURRENT_CGROUP_ID: u32 = 80;
    pub const SEND_SIGNAL: u32 = 109;
    pub const SEND_SIGNAL_THREAD: u32 = 117;
    pub const JIFFIES64: u32 = 118;
}

/// The value of an expression: a scalar in a register, or bytes in memory (strings).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Scalar(VReg),
    Mem { addr: Addr, len: u32 },
}

/// A scratch variable: where it lives, its type, and the integer type it was declared with
/// (`let $x: uint8`), whose width every assignment truncates to.
#[derive(Clone, Debug, PartialEq)]
struct Var {
    value: Value,
    ty: Type,
    declared: Option<(u8, bool)>,
}

/// The state of lowering one probe body; builtins emit their code through it.
pub struct LowerCx<'a> {
    func: Function,
    cur: BlockId,
    span: Span,
    /// The program's context pointer.
    pub ctx: VReg,
    /// Where the program attaches.
    attach: &'a AttachKind,
    /// Scratch variables, innermost scope last; `None` for a `let $x;` never assigned.
    vars: Vec<HashMap<String, Option<Var>>>,
    /// The type of each variable, by the binding number the checker gave it.
    var_types: &'a [Type],
    /// For each enclosing loop, where `continue` and `break` go.
    loops: Vec<(BlockId, BlockId)>,
    /// Instructions inserted at the top of the entry block (variable initialisation).
    entry_inits: usize,
    /// Temporary stack slots of the statements being lowered, innermost statement's last.
    temp_slots: Vec<SlotId>,
    /// Temporary slots of statements already lowered, free for the next ones: a temporary
    /// never outlives its statement, so the frame holds the largest statement, not the sum.
    free_slots: Vec<SlotId>,
    maps: &'a [MapMeta],
    events: &'a mut Vec<EventKind>,
    builtins: &'a dyn BuiltinLowering,
    ringbuf: u32,
    lost_events: u32,
    /// The program's callbacks so far (function `i` of the program is `callbacks[i - 1]`).
    callbacks: &'a mut Vec<Function>,
    /// The scratch map: a per-CPU array of one value, in which each map loop has an area
    /// for the variables its callback shares with the code around it.
    scratch: Scratch<'a>,
    /// In a callback, the block that `return` and `exit()` jump to (they stop the
    /// iteration and end the probe).
    exit_to: Option<BlockId>,
}

/// The scratch map's index and how much of its value the loops lowered so far use.
#[derive(Clone, Copy)]
pub struct Scratch<'a> {
    pub map: u32,
    pub used: &'a std::cell::Cell<u32>,
    /// Set once a probe takes a stack: the stack map (numbered `map + 1`) then exists.
    pub stacks_used: &'a std::cell::Cell<bool>,
    /// Where in the value userspace writes each session value a probe reads.
    pub session_values: &'a std::cell::RefCell<Vec<(crate::program::SessionValue, u32)>>,
}

/// The functions of one program: the probe body, then its callbacks.
pub type Functions = Vec<Function>;

/// Lowers one probe body into a function named `name`.
#[allow(clippy::too_many_arguments)]
pub fn lower_probe(
    name: &str,
    attach: &AttachKind,
    checked: &CheckedProbe,
    maps: &[MapMeta],
    events: &mut Vec<EventKind>,
    builtins: &dyn BuiltinLowering,
    ringbuf: u32,
    lost_events: u32,
    control: u32,
    scratch: Scratch,
    pid_filter: Option<u32>,
) -> Result<Functions, Diagnostic> {
    let probe = &checked.probe;
    let func = Function {
        name: name.into(),
        blocks: vec![],
        slots: vec![],
        vregs: 0,
    };
    let mut callbacks = vec![];
    let mut cx = LowerCx {
        func,
        cur: BlockId(0),
        span: probe.span,
        ctx: VReg(0),
        attach,
        vars: vec![HashMap::new()],
        var_types: &checked.var_types,
        loops: vec![],
        entry_inits: 0,
        temp_slots: vec![],
        free_slots: vec![],
        maps,
        events,
        builtins,
        ringbuf,
        lost_events,
        callbacks: &mut callbacks,
        scratch,
        exit_to: None,
    };
    let entry = cx.new_block();
    cx.switch_to(entry);
    cx.ctx = cx.vreg();
    let ctx = cx.ctx;
    cx.emit(Inst::Context { dst: ctx });
    // With `-p`, probes that fire in any process return at once in the others.
    if let (Some(pid), true) = (pid_filter, attach.fires_in_any_process()) {
        let both = cx.call(helper::GET_CURRENT_PID_TGID, vec![]);
        let tgid = cx.alu(AluOp::Rsh, both, Operand::Imm(32));
        let (body, other) = (cx.new_block(), cx.new_block());
        cx.terminate(Terminator::Branch {
            cond: CmpOp::Ne,
            lhs: tgid,
            rhs: Operand::Imm(i64::from(pid)),
            then: other,
            otherwise: body,
        });
        cx.switch_to(other);
        cx.terminate(Terminator::Return(Operand::Imm(0)));
        cx.switch_to(body);
    }
    // Once tracing has stopped, probes that the kernel fires return at once (userspace
    // sets the control map's value), so that END and the maps printed after it see the
    // final state. An array lookup is inlined by the kernel: a few instructions.
    if attach.fires_on_its_own() {
        let key = cx.zeroed_slot(4);
        let flag = cx.lookup(control, Addr::Stack { slot: key, off: 0 });
        let (check, body, stopped) = (cx.new_block(), cx.new_block(), cx.new_block());
        cx.branch_if_zero(flag, body, check);
        cx.switch_to(check);
        let value = cx.load_u64(Addr::Reg { base: flag, off: 0 });
        cx.branch_if_zero(value, body, stopped);
        cx.switch_to(stopped);
        cx.terminate(Terminator::Return(Operand::Imm(0)));
        cx.switch_to(body);
    }
    // An iterator's program runs once more at the end, without an object: skip that run.
    if let AttachKind::Iter { .. } = attach {
        let object = cx.load_u64(Addr::Reg { base: ctx, off: 8 });
        let (body, done) = (cx.new_block(), cx.new_block());
        cx.branch_if_zero(object, done, body);
        cx.switch_to(done);
        cx.terminate(Terminator::Return(Operand::Imm(0)));
        cx.switch_to(body);
    }
    if let Some(pred) = &probe.predicate {
        let body = cx.new_block();
        let out = cx.new_block();
        cx.span = pred.span;
        cx.cond(pred, body, out)?;
        cx.switch_to(out);
        cx.terminate(Terminator::Return(Operand::Imm(0)));
        cx.switch_to(body);
    }
    cx.block(&probe.body)?;
    cx.span = Span::new(probe.span.end as usize - 1, probe.span.end as usize);
    cx.terminate(Terminator::Return(Operand::Imm(0)));
    let mut functions = vec![cx.func];
    functions.append(&mut callbacks);
    Ok(functions)
}

impl<'a> LowerCx<'a> {
    /// Where the program being lowered attaches.
    pub fn attach(&self) -> &AttachKind {
        self.attach
    }

    /// A fresh virtual register.
    pub fn vreg(&mut self) -> VReg {
        self.func.vregs += 1;
        VReg(self.func.vregs - 1)
    }

    /// A new, empty block.
    pub fn new_block(&mut self) -> BlockId {
        self.func.blocks.push(BasicBlock {
            insts: vec![],
            term: Terminator::Open,
            term_span: self.span,
        });
        BlockId(self.func.blocks.len() as u32 - 1)
    }

    /// Continues emitting into `b`.
    pub fn switch_to(&mut self, b: BlockId) {
        self.cur = b;
    }

    /// Appends an instruction to the current block (dropped if the block already ended).
    pub fn emit(&mut self, inst: Inst) {
        let span = self.span;
        let b = &mut self.func.blocks[self.cur.0 as usize];
        if b.term == Terminator::Open {
            b.insts.push((inst, span));
        }
    }

    /// Ends the current block (no effect if it already ended).
    pub fn terminate(&mut self, term: Terminator) {
        let span = self.span;
        let b = &mut self.func.blocks[self.cur.0 as usize];
        if b.term == Terminator::Open {
            b.term = term;
            b.term_span = span;
        }
    }

    /// Ends the program here, returning 0 (`exit()` does this); in a callback, stops the
    /// iteration and has the caller end the program too.
    pub fn return_now(&mut self) {
        match self.exit_to {
            Some(b) => self.terminate(Terminator::Jump(b)),
            None => self.terminate(Terminator::Return(Operand::Imm(0))),
        }
        let dead = self.new_block();
        self.switch_to(dead);
    }

    /// A stack slot of `size` bytes for a temporary of the current statement, not
    /// initialised: it may be one that an earlier statement used.
    pub fn slot(&mut self, size: u32) -> SlotId {
        let size = size.div_ceil(8) * 8;
        let reuse = self
            .free_slots
            .iter()
            .enumerate()
            .filter(|(_, s)| self.func.slots[s.0 as usize].size >= size)
            .min_by_key(|(_, s)| self.func.slots[s.0 as usize].size)
            .map(|(i, _)| i);
        let slot = match reuse {
            Some(i) => self.free_slots.swap_remove(i),
            None => self.lasting_slot(size),
        };
        self.temp_slots.push(slot);
        slot
    }

    /// A new stack slot of `size` bytes that no other value reuses (a variable's storage).
    fn lasting_slot(&mut self, size: u32) -> SlotId {
        self.func.slots.push(Slot {
            size: size.div_ceil(8) * 8,
        });
        SlotId(self.func.slots.len() as u32 - 1)
    }

    /// A stack slot of `size` bytes for a temporary, zeroed.
    pub fn zeroed_slot(&mut self, size: u32) -> SlotId {
        let slot = self.slot(size);
        let padded = size.div_ceil(8) * 8;
        for off in (0..padded).step_by(8) {
            self.emit(Inst::Store {
                addr: Addr::Stack {
                    slot,
                    off: off as i32,
                },
                src: Operand::Imm(0),
                size: MemSize::DW,
            });
        }
        slot
    }

    /// Ends the block: on to `zero` if `v` is 0 (a null pointer), else to `nonzero`.
    pub fn branch_if_zero(&mut self, v: VReg, zero: BlockId, nonzero: BlockId) {
        self.terminate(Terminator::Branch {
            cond: CmpOp::Eq,
            lhs: v,
            rhs: Operand::Imm(0),
            then: zero,
            otherwise: nonzero,
        });
    }

    /// The 64-bit value at `addr`.
    pub fn load_u64(&mut self, addr: Addr) -> VReg {
        let dst = self.vreg();
        self.emit(Inst::Load {
            dst,
            addr,
            size: MemSize::DW,
            signed: false,
        });
        dst
    }

    /// `dst = src`.
    pub fn copy(&mut self, src: Operand) -> VReg {
        let dst = self.vreg();
        self.emit(Inst::Copy { dst, src });
        dst
    }

    /// `lhs op rhs` in a new register.
    pub fn alu(&mut self, op: AluOp, lhs: VReg, rhs: Operand) -> VReg {
        let dst = self.vreg();
        self.emit(Inst::Alu { op, dst, lhs, rhs });
        dst
    }

    /// Calls a helper and returns r0.
    pub fn call(&mut self, helper: u32, args: Vec<Operand>) -> VReg {
        let dst = self.vreg();
        self.emit(Inst::Call {
            dst: Some(dst),
            helper,
            args,
        });
        dst
    }

    /// The address of a stack slot in a register.
    pub fn stack_addr(&mut self, slot: SlotId, off: i32) -> VReg {
        let dst = self.vreg();
        self.emit(Inst::StackAddr { dst, slot, off });
        dst
    }

    /// An address in a register.
    pub fn addr_reg(&mut self, addr: Addr) -> VReg {
        match addr {
            Addr::Stack { slot, off } => self.stack_addr(slot, off),
            Addr::Reg { base, off: 0 } => base,
            Addr::Reg { base, off } => self.alu(AluOp::Add, base, Operand::Imm(off as i64)),
        }
    }

    /// A reference to map number `map` of the object.
    pub fn map_ref(&mut self, map: u32) -> VReg {
        let dst = self.vreg();
        self.emit(Inst::MapRef { dst, map });
        dst
    }

    /// Copies `len` bytes from `src` to `dst`.
    pub fn copy_mem(&mut self, dst: Addr, src: Addr, len: u32) {
        self.copy_mem_chunks(dst, src, len, false);
    }

    /// Copies `len` bytes from the tracepoint record at `src` (a constant offset from the
    /// context) to `dst`. The kernel only accepts context (and stack) accesses aligned to their
    /// size, so a field at an odd offset (`char rwbs[10]` at 34) is copied in smaller pieces.
    pub fn copy_ctx_mem(&mut self, dst: Addr, src: Addr, len: u32) {
        self.copy_mem_chunks(dst, src, len, true);
    }

    fn copy_mem_chunks(&mut self, dst: Addr, src: Addr, len: u32, aligned: bool) {
        let static_off = |a: Addr| match a {
            Addr::Reg { off, .. } | Addr::Stack { off, .. } => off as u32,
        };
        let (src_off, dst_off) = (static_off(src), static_off(dst));
        let mut off = 0;
        while off < len {
            let chunk = [8, 4, 2, 1]
                .into_iter()
                .find(|c| {
                    off + c <= len
                        && (!aligned || ((src_off + off) % c == 0 && (dst_off + off) % c == 0))
                })
                .expect("1 fits");
            let size = MemSize::of(chunk);
            let v = self.vreg();
            self.emit(Inst::Load {
                dst: v,
                addr: src.offset(off as i32),
                size,
                signed: false,
            });
            self.emit(Inst::Store {
                addr: dst.offset(off as i32),
                src: Operand::Reg(v),
                size,
            });
            off += chunk;
        }
    }

    /// Registers an event kind and returns its id.
    pub fn add_event(&mut self, event: EventKind) -> u64 {
        self.events.push(event);
        self.events.len() as u64 - 1
    }

    /// Sends an event record `{u64 id, args...}` to userspace through the ring buffer,
    /// counting it as lost when the buffer is full. `args` are laid out at their offsets.
    pub fn send_event(&mut self, id: u64, args: &[(Value, EventArg)], size: u32) {
        self.send_event_filled(id, size, |cx, rec| {
            for (value, arg) in args {
                let at = Addr::Reg {
                    base: rec,
                    off: arg.offset as i32,
                };
                cx.store_value(at, *value, &arg.ty);
            }
        });
    }

    /// Sends an event of `size` bytes whose fields after the id `fill` writes through
    /// the record pointer it is given (control must leave `fill` in one block).
    pub fn send_event_filled(&mut self, id: u64, size: u32, fill: impl FnOnce(&mut Self, VReg)) {
        let rb = self.map_ref(self.ringbuf);
        let rec = self.call(
            helper::RINGBUF_RESERVE,
            vec![Operand::Reg(rb), Operand::Imm(size as i64), Operand::Imm(0)],
        );
        let full = self.new_block();
        let write = self.new_block();
        let done = self.new_block();
        self.branch_if_zero(rec, full, write);
        self.switch_to(full);
        let key = self.zeroed_slot(4);
        let ptr = self.lookup(self.lost_events, Addr::Stack { slot: key, off: 0 });
        let counted = self.new_block();
        self.branch_if_zero(ptr, done, counted);
        self.switch_to(counted);
        let one = self.copy(Operand::Imm(1));
        self.emit(Inst::AtomicAdd {
            addr: Addr::Reg { base: ptr, off: 0 },
            src: one,
        });
        self.terminate(Terminator::Jump(done));
        self.switch_to(write);
        self.emit(Inst::Store {
            addr: Addr::Reg { base: rec, off: 0 },
            src: Operand::Imm(id as i64),
            size: MemSize::DW,
        });
        fill(self, rec);
        self.emit(Inst::Call {
            dst: None,
            helper: helper::RINGBUF_SUBMIT,
            args: vec![Operand::Reg(rec), Operand::Imm(0)],
        });
        self.terminate(Terminator::Jump(done));
        self.switch_to(done);
    }

    /// Stores `value` at `addr` in the layout of `ty` (integers take 8 bytes, strings their
    /// length, zero-padded).
    pub fn store_value(&mut self, addr: Addr, value: Value, ty: &Type) {
        match value {
            Value::Scalar(r) => self.emit(Inst::Store {
                addr,
                src: Operand::Reg(r),
                size: MemSize::DW,
            }),
            Value::Mem { addr: src, len } => {
                let want = ty.size();
                self.copy_mem(addr, src, len.min(want));
                let mut off = len.min(want);
                while off < want {
                    let chunk = [8, 4, 2, 1]
                        .into_iter()
                        .find(|c| off % c == 0 && off + c <= want)
                        .expect("1 fits");
                    self.emit(Inst::Store {
                        addr: addr.offset(off as i32),
                        src: Operand::Imm(0),
                        size: MemSize::of(chunk),
                    });
                    off += chunk;
                }
            }
        }
    }

    /// Stores `value`, of type `from`, at `addr` as a value of type `to`, which holds it
    /// (the checker unified them): tuples element by element, since a wider string element
    /// moves the elements after it.
    pub fn store_as(&mut self, addr: Addr, value: Value, from: &Type, to: &Type) {
        let (Type::Tuple(from_elems), Type::Tuple(to_elems), Value::Mem { addr: src, .. }) =
            (from, to, value)
        else {
            return self.store_value(addr, value, to);
        };
        if from == to {
            return self.store_value(addr, value, to);
        }
        let offsets = from.tuple_offsets().into_iter().zip(to.tuple_offsets());
        for ((f, t), (from_off, to_off)) in from_elems.iter().zip(to_elems).zip(offsets) {
            let elem = self.tuple_element(src.offset(from_off as i32), f);
            self.store_as(addr.offset(to_off as i32), elem, f, t);
        }
    }

    /// The element of type `ty` stored at `at` inside a tuple.
    fn tuple_element(&mut self, at: Addr, ty: &Type) -> Value {
        if ty.is_scalar() {
            let dst = self.load_u64(at);
            Value::Scalar(dst)
        } else {
            Value::Mem {
                addr: at,
                len: ty.size(),
            }
        }
    }

    /// The kernel address of the struct `e` names: a pointer to one, a struct field, or
    /// `*p`.
    fn struct_address(&mut self, e: &Expr) -> Result<VReg, Diagnostic> {
        match (&e.ty, &e.kind) {
            (Type::Ptr(_), _) => self.scalar(e),
            (Type::Struct(_), ExprKind::Field { base, offset, .. }) => {
                let at = self.struct_address(base)?;
                Ok(self.alu(AluOp::Add, at, Operand::Imm(i64::from(*offset))))
            }
            (
                Type::Struct(_),
                ExprKind::Unary {
                    op: UnaryOp::Deref,
                    expr,
                },
            ) => self.scalar(expr),
            _ => Err(
                Diagnostic::error(e.span, format!("{} has no address here", e.ty))
                    .with_label("not a struct in kernel memory"),
            ),
        }
    }

    /// The kernel address of a place: a struct field read through a pointer, or `*p`.
    fn place_address(&mut self, e: &Expr) -> Result<VReg, Diagnostic> {
        match &e.kind {
            ExprKind::Field { base, offset, .. } => {
                let at = self.struct_address(base)?;
                Ok(self.alu(AluOp::Add, at, Operand::Imm(i64::from(*offset))))
            }
            ExprKind::Unary {
                op: UnaryOp::Deref,
                expr,
            } => self.scalar(expr),
            _ => Err(Diagnostic::error(e.span, "this has no address")
                .with_label("not a place in kernel memory")),
        }
    }

    /// Reads a value of type `ty` from address `at` with probe-read helper `helper`
    /// (`bpf_probe_read_kernel` for kernel structs; a failed read gives zeroes).
    fn read_memory(
        &mut self,
        helper: u32,
        at: VReg,
        ty: &Type,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let (bytes, signed) = match ty {
            Type::Int { bits, signed } => (u32::from(*bits) / 8, *signed),
            Type::Bool => (1, false),
            Type::Ptr(_) => (8, false),
            Type::Str { len } => (*len, false),
            other => {
                return Err(
                    Diagnostic::error(span, format!("{other} cannot be read whole"))
                        .with_label("read one of its fields"),
                )
            }
        };
        let slot = self.zeroed_slot(bytes.max(8));
        let buf = self.stack_addr(slot, 0);
        self.call(
            helper,
            vec![
                Operand::Reg(buf),
                Operand::Imm(i64::from(bytes)),
                Operand::Reg(at),
            ],
        );
        let addr = Addr::Stack { slot, off: 0 };
        if let Type::Str { len } = ty {
            return Ok(Value::Mem { addr, len: *len });
        }
        let dst = self.vreg();
        self.emit(Inst::Load {
            dst,
            addr,
            size: MemSize::of(bytes),
            signed,
        });
        Ok(Value::Scalar(dst))
    }

    /// `bpf_map_lookup_elem(map, key)`: a pointer to the value, or 0.
    pub fn lookup(&mut self, map: u32, key: Addr) -> VReg {
        let m = self.map_ref(map);
        let k = self.addr_reg(key);
        self.call(
            helper::MAP_LOOKUP_ELEM,
            vec![Operand::Reg(m), Operand::Reg(k)],
        )
    }

    /// `bpf_map_update_elem(map, key, value, BPF_ANY)`.
    pub fn update(&mut self, map: u32, key: Addr, value: Addr) {
        let m = self.map_ref(map);
        let k = self.addr_reg(key);
        let v = self.addr_reg(value);
        self.call(
            helper::MAP_UPDATE_ELEM,
            vec![
                Operand::Reg(m),
                Operand::Reg(k),
                Operand::Reg(v),
                Operand::Imm(0),
            ],
        );
    }

    fn script_map(&self, name: &Ident) -> (u32, &'a MapMeta) {
        let display = map_display_name(name);
        let maps: &'a [MapMeta] = self.maps;
        maps.iter()
            .enumerate()
            .find(|(_, m)| m.script.as_ref().is_some_and(|s| s.name == display))
            .map(|(i, m)| (i as u32, m))
            .expect("the checker registered every map")
    }

    /// Builds the zeroed key of map `name` from `keys` in a new stack slot; returns the
    /// map's index and the key's address.
    pub fn map_key(&mut self, name: &Ident, keys: &[Expr]) -> Result<(u32, Addr), Diagnostic> {
        let (index, meta) = self.script_map(name);
        let layout = meta.script.as_ref().expect("script map").key.clone();
        let slot = self.zeroed_slot(meta.key_size);
        if let [k @ Expr {
            ty: Type::Tuple(_), ..
        }] = keys
        {
            // A lone tuple is the key's elements, laid out as a tuple of the key types.
            let v = self.expr(k)?;
            let key_ty = Type::Tuple(layout.into_iter().map(|(ty, _)| ty).collect());
            let at = Addr::Stack { slot, off: 0 };
            self.store_as(at, v, &k.ty, &key_ty);
            return Ok((index, at));
        }
        for (k, (ty, off)) in keys.iter().zip(layout) {
            let v = self.expr(k)?;
            self.store_value(
                Addr::Stack {
                    slot,
                    off: off as i32,
                },
                v,
                &ty,
            );
        }
        Ok((index, Addr::Stack { slot, off: 0 }))
    }

    /// The index of map `name` in the object.
    pub fn map_index(&self, name: &Ident) -> u32 {
        self.script_map(name).0
    }

    /// `bpf_map_delete_elem(map, key)`.
    /// An array's elements cannot be deleted: the element is set to zero instead.
    pub fn delete(&mut self, map: u32, key: Addr) {
        let meta = &self.maps[map as usize];
        if meta.array() {
            let slot = self.zeroed_slot(meta.value_size);
            self.update(map, key, Addr::Stack { slot, off: 0 });
            return;
        }
        let m = self.map_ref(map);
        let k = self.addr_reg(key);
        self.emit(Inst::Call {
            dst: None,
            helper: helper::MAP_DELETE_ELEM,
            args: vec![Operand::Reg(m), Operand::Reg(k)],
        });
    }

    fn block(&mut self, block: &Block) -> Result<(), Diagnostic> {
        self.vars.push(HashMap::new());
        let result = block.stmts.iter().try_for_each(|s| self.stmt(s));
        self.vars.pop();
        result
    }

    /// Emits an instruction at the top of the entry block, so that it runs on every path.
    fn emit_at_entry(&mut self, inst: Inst) {
        let at = 1 + self.entry_inits;
        self.func.blocks[0].insts.insert(at, (inst, self.span));
        self.entry_inits += 1;
    }

    /// The innermost variable called `name`: `Some(None)` if declared but never assigned.
    fn find_var(&self, name: &str) -> Option<Option<Var>> {
        self.vars.iter().rev().find_map(|s| s.get(name).cloned())
    }

    /// Storage for variable number `binding`.
    fn new_var(&mut self, binding: u32, declared: Option<(u8, bool)>) -> Var {
        self.var_of_type(self.var_types[binding as usize].clone(), declared)
    }

    /// Storage for a variable of type `ty`, zeroed on entry to the probe so that every path
    /// sees a value.
    fn var_of_type(&mut self, ty: Type, declared: Option<(u8, bool)>) -> Var {
        let value = if ty.is_scalar() {
            let r = self.vreg();
            self.emit_at_entry(Inst::Copy {
                dst: r,
                src: Operand::Imm(0),
            });
            Value::Scalar(r)
        } else {
            let len = ty.size();
            let slot = self.lasting_slot(len);
            for off in (0..len.div_ceil(8) * 8).step_by(8) {
                let addr = Addr::Stack {
                    slot,
                    off: off as i32,
                };
                self.emit_at_entry(Inst::Store {
                    addr,
                    src: Operand::Imm(0),
                    size: MemSize::DW,
                });
            }
            Value::Mem {
                addr: Addr::Stack { slot, off: 0 },
                len,
            }
        };
        Var {
            value,
            ty,
            declared,
        }
    }

    /// Stores `v`, of type `from`, in `var`, truncated to its declared width.
    fn write_var(&mut self, var: &Var, v: Value, from: &Type) {
        match (&var.value, v) {
            (Value::Scalar(dst), Value::Scalar(src)) => {
                let src = match var.declared {
                    Some((bits, signed)) => self.truncate(src, bits, signed),
                    None => src,
                };
                self.emit(Inst::Copy {
                    dst: *dst,
                    src: Operand::Reg(src),
                });
            }
            (Value::Mem { addr, .. }, v) => self.store_as(*addr, v, from, &var.ty),
            (Value::Scalar(_), Value::Mem { .. }) => unreachable!("the checker unified the types"),
        }
    }

    /// Keeps the low `bits` of `r`, zero- or sign-extended.
    pub fn truncate(&mut self, r: VReg, bits: u8, signed: bool) -> VReg {
        if bits >= 64 {
            return r;
        }
        if signed {
            let shift = Operand::Imm(64 - i64::from(bits));
            let up = self.alu(AluOp::Lsh, r, shift);
            self.alu(AluOp::Arsh, up, shift)
        } else {
            self.alu(AluOp::And, r, Operand::Imm((1i64 << bits) - 1))
        }
    }

    /// `$name = v`: a variable not declared with `let` belongs to the whole probe.
    /// `$name = v`, declaring the variable when the checker numbered this assignment.
    fn assign_var(&mut self, name: &str, v: Value, from: &Type, binding: Option<u32>) {
        match binding {
            Some(b) => {
                let var = self.new_var(b, None);
                self.write_var(&var, v, from);
                self.vars[0].insert(name.to_string(), Some(var));
            }
            None => {
                let var = self
                    .find_var(name)
                    .flatten()
                    .expect("the checker declared the variable");
                self.write_var(&var, v, from);
            }
        }
    }

    /// Reads an integer target, applies `f` to it, writes the result back; returns the old
    /// and the new value.
    fn update_target(
        &mut self,
        target: &Target,
        f: &mut dyn FnMut(&mut Self, VReg) -> Result<VReg, Diagnostic>,
    ) -> Result<(VReg, VReg), Diagnostic> {
        match target {
            Target::Var(v) => {
                let Some(Some(var)) = self.find_var(&v.name) else {
                    return Err(Diagnostic::error(
                        v.span,
                        format!("${} is used before it is assigned", v.name),
                    )
                    .with_label("used here"));
                };
                let Value::Scalar(r) = var.value else {
                    unreachable!("the checker allows integers only")
                };
                let old = self.copy(Operand::Reg(r));
                let new = f(self, old)?;
                self.write_var(&var, Value::Scalar(new), &Type::I64);
                Ok((old, new))
            }
            Target::Map(m) => {
                let (index, key) = self.map_key(&m.name, &m.keys)?;
                let Value::Scalar(old) = self.map_read(index, key) else {
                    unreachable!("integer map")
                };
                let new = f(self, old)?;
                self.map_write(index, key, Value::Scalar(new), &Type::I64);
                Ok((old, new))
            }
        }
    }

    /// The value stored under `key`, or zero (an empty string) when there is none.
    fn map_read(&mut self, index: u32, key: Addr) -> Value {
        let ty = self.maps[index as usize]
            .script
            .as_ref()
            .expect("script map")
            .value
            .clone();
        let ptr = self.lookup(index, key);
        let found = self.new_block();
        let missing = self.new_block();
        let done = self.new_block();
        self.branch_if_zero(ptr, missing, found);
        let result = match ty {
            Type::Str { .. } | Type::Tuple(_) | Type::Printed(_) => {
                let len = ty.size();
                let slot = self.slot(len);
                let at = Addr::Stack { slot, off: 0 };
                self.switch_to(found);
                self.copy_mem(at, Addr::Reg { base: ptr, off: 0 }, len);
                self.terminate(Terminator::Jump(done));
                self.switch_to(missing);
                self.store_value(at, Value::Mem { addr: at, len: 0 }, &ty);
                Value::Mem { addr: at, len }
            }
            _ => {
                let r = self.vreg();
                self.switch_to(found);
                self.emit(Inst::Load {
                    dst: r,
                    addr: Addr::Reg { base: ptr, off: 0 },
                    size: MemSize::DW,
                    signed: false,
                });
                self.terminate(Terminator::Jump(done));
                self.switch_to(missing);
                self.emit(Inst::Copy {
                    dst: r,
                    src: Operand::Imm(0),
                });
                Value::Scalar(r)
            }
        };
        self.terminate(Terminator::Jump(done));
        self.switch_to(done);
        result
    }

    /// Stores `v`, of type `from`, under `key`.
    fn map_write(&mut self, index: u32, key: Addr, v: Value, from: &Type) {
        let value_ty = self.maps[index as usize]
            .script
            .as_ref()
            .expect("script map")
            .value
            .clone();
        // Zeroed: the helper reads the whole value, padding included.
        let slot = self.zeroed_slot(value_ty.size());
        let at = Addr::Stack { slot, off: 0 };
        self.store_as(at, v, from, &value_ty);
        self.update(index, key, at);
    }

    fn stmt(&mut self, stmt: &Stmt) -> Result<(), Diagnostic> {
        let mark = self.temp_slots.len();
        let result = self.stmt_inner(stmt);
        let done = self.temp_slots.split_off(mark);
        self.free_slots.extend(done);
        result
    }

    fn stmt_inner(&mut self, stmt: &Stmt) -> Result<(), Diagnostic> {
        self.span = stmt.span;
        match &stmt.kind {
            StmtKind::Expr(e) => {
                self.expr_any(e)?;
            }
            StmtKind::AssignMap { map, value } => {
                let (index, key) = self.map_key(&map.name, &map.keys)?;
                self.span = stmt.span;
                if let (ExprKind::Call { name, args }, Type::Agg(agg)) = (&value.kind, &value.ty) {
                    let kind = *agg;
                    let meta = &self.maps[index as usize];
                    let zero = self.zeroed_slot(meta.value_size);
                    let ptr = self.lookup(index, key);
                    let init = self.new_block();
                    let ready = self.new_block();
                    let update = self.new_block();
                    let done = self.new_block();
                    self.branch_if_zero(ptr, init, update);
                    self.switch_to(init);
                    self.update(index, key, Addr::Stack { slot: zero, off: 0 });
                    let again = self.lookup(index, key);
                    self.branch_if_zero(again, done, ready);
                    self.switch_to(ready);
                    let builtins = self.builtins;
                    builtins.lower_aggregation(name, kind, args, again, self)?;
                    self.terminate(Terminator::Jump(done));
                    self.switch_to(update);
                    let builtins = self.builtins;
                    builtins.lower_aggregation(name, kind, args, ptr, self)?;
                    self.terminate(Terminator::Jump(done));
                    self.switch_to(done);
                } else {
                    let v = self.expr(value)?;
                    self.span = stmt.span;
                    self.map_write(index, key, v, &value.ty);
                }
            }
            StmtKind::AssignVar {
                var,
                value,
                binding,
            } => {
                let v = self.expr(value)?;
                self.span = stmt.span;
                self.assign_var(&var.name, v, &value.ty, *binding);
            }
            StmtKind::Let {
                var,
                ty,
                value,
                binding,
            } => {
                let declared =
                    ty.as_ref()
                        .and_then(|t| match probe_lang::check::parse_type_name(&t.name) {
                            Some(Type::Int { bits, signed }) => Some((bits, signed)),
                            _ => None,
                        });
                let v = match value {
                    Some(e) => Some(self.expr(e)?),
                    None => None,
                };
                self.span = stmt.span;
                let b = binding.expect("the checker numbered every let");
                let declared_var = (self.var_types[b as usize] != Type::Unknown).then(|| {
                    let new = self.new_var(b, declared);
                    match (v, value) {
                        (Some(v), Some(e)) => self.write_var(&new, v, &e.ty),
                        // `let $x: T;` in a loop is zero on every iteration.
                        _ => {
                            let zero = match new.value {
                                Value::Scalar(_) => Value::Scalar(self.copy(Operand::Imm(0))),
                                Value::Mem { addr, .. } => Value::Mem { addr, len: 0 },
                            };
                            let ty = new.ty.clone();
                            self.write_var(&new, zero, &ty);
                        }
                    }
                    new
                });
                self.vars
                    .last_mut()
                    .expect("a scope")
                    .insert(var.name.clone(), declared_var);
            }
            StmtKind::CompoundAssign { target, op, value } => {
                let signed = matches!(value.ty, Type::Int { signed: true, .. });
                let op = alu_op(*op, signed);
                self.update_target(target, &mut |cx, old| {
                    let v = cx.scalar(value)?;
                    Ok(cx.alu(op, old, Operand::Reg(v)))
                })?;
            }
            StmtKind::While { cond, body } => {
                let head = self.new_block();
                let inside = self.new_block();
                let exit = self.new_block();
                self.terminate(Terminator::Jump(head));
                self.switch_to(head);
                self.cond(cond, inside, exit)?;
                self.switch_to(inside);
                self.loops.push((head, exit));
                let result = self.block(body);
                self.loops.pop();
                result?;
                self.terminate(Terminator::Jump(head));
                self.switch_to(exit);
            }
            StmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                let first = self.scalar(start)?;
                let last = self.scalar(end)?;
                let last = self.copy(Operand::Reg(last));
                self.span = stmt.span;
                self.vars.push(HashMap::new());
                let counter = self.var_of_type(Type::I64, None);
                self.write_var(&counter, Value::Scalar(first), &Type::I64);
                let Value::Scalar(i) = counter.value else {
                    unreachable!("an integer")
                };
                self.vars
                    .last_mut()
                    .expect("a scope")
                    .insert(var.name.clone(), Some(counter));
                let (head, inside, step, exit) = (
                    self.new_block(),
                    self.new_block(),
                    self.new_block(),
                    self.new_block(),
                );
                self.terminate(Terminator::Jump(head));
                self.switch_to(head);
                self.terminate(Terminator::Branch {
                    cond: CmpOp::SLt,
                    lhs: i,
                    rhs: Operand::Reg(last),
                    then: inside,
                    otherwise: exit,
                });
                self.switch_to(inside);
                self.loops.push((step, exit));
                let result = self.block(body);
                self.loops.pop();
                self.vars.pop();
                result?;
                self.terminate(Terminator::Jump(step));
                self.switch_to(step);
                let next = self.alu(AluOp::Add, i, Operand::Imm(1));
                self.emit(Inst::Copy {
                    dst: i,
                    src: Operand::Reg(next),
                });
                self.terminate(Terminator::Jump(head));
                self.switch_to(exit);
            }
            StmtKind::Break | StmtKind::Continue => {
                let &(head, exit) = self
                    .loops
                    .last()
                    .expect("the checker rejects break outside loops");
                let to = if stmt.kind == StmtKind::Break {
                    exit
                } else {
                    head
                };
                self.terminate(Terminator::Jump(to));
                let dead = self.new_block();
                self.switch_to(dead);
            }
            StmtKind::Return(None) => self.return_now(),
            StmtKind::Return(Some(value)) => {
                let v = self.scalar(value)?;
                match self.exit_to {
                    // Inside a map loop the loop's end returns; the value is dropped.
                    Some(_) => self.return_now(),
                    None => {
                        self.terminate(Terminator::Return(Operand::Reg(v)));
                        let dead = self.new_block();
                        self.switch_to(dead);
                    }
                }
            }
            StmtKind::ForMap { var, map, body } => self.for_map(var, map, body)?,
            StmtKind::Block(b) => self.block(b)?,
            StmtKind::Unroll { count, body } => {
                for _ in 0..*count {
                    self.block(body)?;
                }
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let t = self.new_block();
                let e = self.new_block();
                let done = self.new_block();
                self.cond(cond, t, e)?;
                self.switch_to(t);
                self.block(then)?;
                self.terminate(Terminator::Jump(done));
                self.switch_to(e);
                if let Some(o) = otherwise {
                    self.block(o)?;
                }
                self.terminate(Terminator::Jump(done));
                self.switch_to(done);
            }
        }
        Ok(())
    }

    /// Lowers an expression that may have no value.
    fn expr_any(&mut self, e: &Expr) -> Result<Option<Value>, Diagnostic> {
        if let ExprKind::Call { name, args } = &e.kind {
            self.span = e.span;
            let builtins = self.builtins;
            return builtins.lower_call(name, args, e.span, self);
        }
        self.expr(e).map(Some)
    }

    /// Lowers an expression to its value.
    pub fn expr(&mut self, e: &Expr) -> Result<Value, Diagnostic> {
        let outer = self.span;
        self.span = e.span;
        let v = self.expr_inner(e);
        self.span = outer;
        v
    }

    /// Lowers an integer or boolean expression to a register.
    pub fn scalar(&mut self, e: &Expr) -> Result<VReg, Diagnostic> {
        match self.expr(e)? {
            Value::Scalar(r) => Ok(r),
            Value::Mem { .. } => Err(Diagnostic::error(
                e.span,
                format!("expected an integer, found {}", e.ty),
            )
            .with_label("this is not an integer")),
        }
    }

    fn expr_inner(&mut self, e: &Expr) -> Result<Value, Diagnostic> {
        match &e.kind {
            ExprKind::Int(v) => Ok(Value::Scalar(self.copy(Operand::Imm(*v as i64)))),
            ExprKind::Str(s) => Ok(self.string_constant(s)),
            ExprKind::Builtin(id) => {
                let builtins = self.builtins;
                builtins.lower_variable(id, self)
            }
            ExprKind::Var(id) => match self.find_var(&id.name) {
                Some(Some(var)) => Ok(var.value),
                _ => Err(Diagnostic::error(
                    id.span,
                    format!("${} is used before it is assigned", id.name),
                )
                .with_label("used here")
                .with_note(format!(
                    "assign ${} before this point in the same probe",
                    id.name
                ))),
            },
            ExprKind::Bool(b) => Ok(Value::Scalar(self.copy(Operand::Imm(i64::from(*b))))),
            ExprKind::Positional(_) | ExprKind::ParamCount => Err(Diagnostic::error(
                e.span,
                "positional parameters must be substituted before compiling",
            )
            .with_label("still a parameter")
            .with_note("check the program with probe_lang::check_with_params")),
            ExprKind::IncDec {
                target,
                delta,
                prefix,
            } => {
                let delta = *delta;
                let (old, new) = self.update_target(target, &mut |cx, old| {
                    Ok(cx.alu(AluOp::Add, old, Operand::Imm(delta)))
                })?;
                Ok(Value::Scalar(if *prefix { new } else { old }))
            }
            ExprKind::Map(access) => {
                let (index, key) = self.map_key(&access.name, &access.keys)?;
                Ok(self.map_read(index, key))
            }
            ExprKind::Call { name, args } => {
                let builtins = self.builtins;
                builtins
                    .lower_call(name, args, e.span, self)?
                    .ok_or_else(|| {
                        Diagnostic::error(e.span, format!("{}() has no value", name.name))
                            .with_label("used as a value here")
                    })
            }
            ExprKind::Block { block, value } => {
                self.vars.push(HashMap::new());
                let result = block
                    .stmts
                    .iter()
                    .try_for_each(|s| self.stmt(s))
                    .and_then(|()| self.expr(value));
                self.vars.pop();
                result
            }
            ExprKind::SizeOfStruct { size: n, .. } | ExprKind::OffsetOf { offset: n, .. } => {
                Ok(Value::Scalar(self.copy(Operand::Imm(*n as i64))))
            }
            ExprKind::Field { base, offset, .. } if !matches!(&base.kind, ExprKind::Builtin(b) if b.name == "args") =>
            {
                let at = self.struct_address(base)?;
                let at = self.alu(AluOp::Add, at, Operand::Imm(i64::from(*offset)));
                self.read_memory(helper::PROBE_READ_KERNEL, at, &e.ty, e.span)
            }
            ExprKind::Field {
                offset,
                data_loc: true,
                ..
            } => {
                let loc = self.vreg();
                self.emit(Inst::Load {
                    dst: loc,
                    addr: Addr::Reg {
                        base: self.ctx,
                        off: *offset as i32,
                    },
                    size: MemSize::W,
                    signed: false,
                });
                let data = self.alu(AluOp::And, loc, Operand::Imm(0xffff));
                let ctx = self.ctx;
                Ok(Value::Scalar(self.alu(AluOp::Add, data, Operand::Reg(ctx))))
            }
            ExprKind::Field { offset, .. } => {
                let at = Addr::Reg {
                    base: self.ctx,
                    off: *offset as i32,
                };
                Ok(match &e.ty {
                    Type::Str { .. } | Type::Array { .. } => {
                        let len = &e.ty.size();
                        let slot = self.zeroed_slot(*len);
                        let own = Addr::Stack { slot, off: 0 };
                        self.copy_ctx_mem(own, at, *len);
                        Value::Mem {
                            addr: own,
                            len: *len,
                        }
                    }
                    Type::Int { bits, signed } => {
                        let dst = self.vreg();
                        let size = MemSize::of(u32::from(*bits) / 8);
                        self.emit(Inst::Load {
                            dst,
                            addr: at,
                            size,
                            signed: *signed,
                        });
                        Value::Scalar(dst)
                    }
                    // fentry's pointer and boolean arguments fill their 64-bit slot.
                    Type::Ptr(_) | Type::Bool => {
                        let dst = self.load_u64(at);
                        Value::Scalar(dst)
                    }
                    other => {
                        return Err(Diagnostic::error(
                            e.span,
                            format!("a field of type {other} cannot be read yet"),
                        )
                        .with_label("this field"))
                    }
                })
            }
            ExprKind::SizeOf { size, .. } => {
                Ok(Value::Scalar(self.copy(Operand::Imm(*size as i64))))
            }
            ExprKind::Tuple(elems) => {
                let size = e.ty.size();
                let slot = self.zeroed_slot(size);
                let at = Addr::Stack { slot, off: 0 };
                let Type::Tuple(types) = &e.ty else {
                    unreachable!("a tuple")
                };
                let types = types.clone();
                for ((x, ty), off) in elems.iter().zip(&types).zip(e.ty.tuple_offsets()) {
                    let v = self.expr(x)?;
                    self.store_value(at.offset(off as i32), v, ty);
                }
                Ok(Value::Mem {
                    addr: at,
                    len: size,
                })
            }
            ExprKind::TupleIndex { tuple, index } => {
                let Value::Mem { addr, .. } = self.expr(tuple)? else {
                    unreachable!("tuples live in memory")
                };
                let off = tuple.ty.tuple_offsets()[*index as usize] as i32;
                Ok(self.tuple_element(addr.offset(off), &e.ty))
            }
            ExprKind::Cast { expr, .. } => {
                let v = self.scalar(expr)?;
                Ok(Value::Scalar(match e.ty {
                    Type::Int { bits, signed } => self.truncate(v, bits, signed),
                    _ => v,
                }))
            }
            ExprKind::Unary {
                op: UnaryOp::AddrOf,
                expr,
            } => Ok(Value::Scalar(self.place_address(expr)?)),
            ExprKind::Unary { op, expr } => {
                let v = self.scalar(expr)?;
                Ok(Value::Scalar(match op {
                    UnaryOp::Neg => {
                        let d = self.vreg();
                        self.emit(Inst::Neg { dst: d, src: v });
                        d
                    }
                    UnaryOp::BitNot => self.alu(AluOp::Xor, v, Operand::Imm(-1)),
                    UnaryOp::Not => return self.bool_value(e),
                    UnaryOp::AddrOf => unreachable!("lowered above"),
                    // Kernel or user memory: the compatible helper reads either.
                    UnaryOp::Deref => {
                        return self.read_memory(helper::PROBE_READ, v, &e.ty, e.span)
                    }
                }))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                if op.is_comparison() || matches!(op, BinaryOp::And | BinaryOp::Or) {
                    return self.bool_value(e);
                }
                let signed = matches!(e.ty, Type::Int { signed: true, .. });
                let mut a = self.scalar(lhs)?;
                let mut b = self.scalar(rhs)?;
                // Pointer arithmetic counts in elements of the pointed-to type.
                if let Type::Ptr(to) = &e.ty {
                    let scale = Operand::Imm(i64::from(to.size().max(1)));
                    if matches!(lhs.ty, Type::Ptr(_)) {
                        b = self.alu(AluOp::Mul, b, scale);
                    } else {
                        a = self.alu(AluOp::Mul, a, scale);
                    }
                }
                let op = alu_op(*op, signed);
                Ok(Value::Scalar(self.alu(op, a, Operand::Reg(b))))
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                let t = self.new_block();
                let o = self.new_block();
                let done = self.new_block();
                self.cond(cond, t, o)?;
                let result = match &e.ty {
                    Type::Str { .. } | Type::Tuple(_) | Type::Printed(_) => {
                        let len = e.ty.size();
                        let slot = self.slot(len);
                        let at = Addr::Stack { slot, off: 0 };
                        for (b, branch) in [(t, then), (o, otherwise)] {
                            self.switch_to(b);
                            let v = self.expr(branch)?;
                            self.store_as(at, v, &branch.ty, &e.ty);
                            self.terminate(Terminator::Jump(done));
                        }
                        Value::Mem { addr: at, len }
                    }
                    _ => {
                        let r = self.vreg();
                        for (b, branch) in [(t, then), (o, otherwise)] {
                            self.switch_to(b);
                            let v = self.scalar(branch)?;
                            self.emit(Inst::Copy {
                                dst: r,
                                src: Operand::Reg(v),
                            });
                            self.terminate(Terminator::Jump(done));
                        }
                        Value::Scalar(r)
                    }
                };
                self.switch_to(done);
                Ok(result)
            }
        }
    }

    /// Materialises a condition as 0 or 1.
    fn bool_value(&mut self, e: &Expr) -> Result<Value, Diagnostic> {
        let r = self.vreg();
        let t = self.new_block();
        let f = self.new_block();
        let done = self.new_block();
        self.cond(e, t, f)?;
        self.switch_to(t);
        self.emit(Inst::Copy {
            dst: r,
            src: Operand::Imm(1),
        });
        self.terminate(Terminator::Jump(done));
        self.switch_to(f);
        self.emit(Inst::Copy {
            dst: r,
            src: Operand::Imm(0),
        });
        self.terminate(Terminator::Jump(done));
        self.switch_to(done);
        Ok(Value::Scalar(r))
    }

    /// Branches to `then` when `e` holds, else to `otherwise`.
    pub fn cond(&mut self, e: &Expr, then: BlockId, otherwise: BlockId) -> Result<(), Diagnostic> {
        let outer = self.span;
        self.span = e.span;
        match &e.kind {
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => self.cond(expr, otherwise, then)?,
            ExprKind::Binary {
                op: BinaryOp::And,
                lhs,
                rhs,
            } => {
                let mid = self.new_block();
                self.cond(lhs, mid, otherwise)?;
                self.switch_to(mid);
                self.cond(rhs, then, otherwise)?;
            }
            ExprKind::Binary {
                op: BinaryOp::Or,
                lhs,
                rhs,
            } => {
                let mid = self.new_block();
                self.cond(lhs, then, mid)?;
                self.switch_to(mid);
                self.cond(rhs, then, otherwise)?;
            }
            ExprKind::Binary { op, lhs, rhs } if op.is_comparison() => {
                if let (Type::Str { .. }, Type::Str { .. }) = (&lhs.ty, &rhs.ty) {
                    let a = self.expr(lhs)?;
                    let b = self.expr(rhs)?;
                    let (t, f) = if *op == BinaryOp::Eq {
                        (then, otherwise)
                    } else {
                        (otherwise, then)
                    };
                    self.str_eq(a, b, u32::MAX, t, f);
                } else {
                    let signed = [&**lhs, &**rhs]
                        .iter()
                        .all(|s| matches!(s.ty, Type::Int { signed: true, .. }));
                    let a = self.scalar(lhs)?;
                    let b = self.scalar(rhs)?;
                    let cond = match (op, signed) {
                        (BinaryOp::Eq, _) => CmpOp::Eq,
                        (BinaryOp::Ne, _) => CmpOp::Ne,
                        (BinaryOp::Lt, false) => CmpOp::Lt,
                        (BinaryOp::Le, false) => CmpOp::Le,
                        (BinaryOp::Gt, false) => CmpOp::Gt,
                        (BinaryOp::Ge, false) => CmpOp::Ge,
                        (BinaryOp::Lt, true) => CmpOp::SLt,
                        (BinaryOp::Le, true) => CmpOp::SLe,
                        (BinaryOp::Gt, true) => CmpOp::SGt,
                        (BinaryOp::Ge, true) => CmpOp::SGe,
                        _ => unreachable!("is_comparison"),
                    };
                    self.terminate(Terminator::Branch {
                        cond,
                        lhs: a,
                        rhs: Operand::Reg(b),
                        then,
                        otherwise,
                    });
                }
            }
            _ => {
                let v = self.scalar(e)?;
                self.terminate(Terminator::Branch {
                    cond: CmpOp::Ne,
                    lhs: v,
                    rhs: Operand::Imm(0),
                    then,
                    otherwise,
                });
            }
        }
        self.span = outer;
        Ok(())
    }

    /// Compares two strings byte by byte up to the first NUL, the shorter length or
    /// `limit` bytes (equal if they agree that far).
    pub fn str_eq(&mut self, a: Value, b: Value, limit: u32, equal: BlockId, differ: BlockId) {
        let (Value::Mem { addr: pa, len: la }, Value::Mem { addr: pb, len: lb }) = (a, b) else {
            unreachable!("strings live in memory")
        };
        let n = la.min(lb);
        if limit <= n {
            self.str_eq_bytes(pa, pb, limit, equal, differ);
            self.terminate(Terminator::Jump(equal));
            return;
        }
        self.str_eq_bytes(pa, pb, n, equal, differ);
        // Equal over the common length: equal if the longer one ends there too.
        if la == lb {
            self.terminate(Terminator::Jump(equal));
        } else {
            let (longer, _) = if la > lb { (pa, la) } else { (pb, lb) };
            let x = self.vreg();
            self.emit(Inst::Load {
                dst: x,
                addr: longer.offset(n as i32),
                size: MemSize::B,
                signed: false,
            });
            self.branch_if_zero(x, equal, differ);
        }
    }

    /// Compares the first `n` bytes at `pa` and `pb`, going to `equal` at a common NUL and
    /// to `differ` at a difference; falls through when all `n` agree.
    fn str_eq_bytes(&mut self, pa: Addr, pb: Addr, n: u32, equal: BlockId, differ: BlockId) {
        for i in 0..n {
            let x = self.vreg();
            let y = self.vreg();
            self.emit(Inst::Load {
                dst: x,
                addr: pa.offset(i as i32),
                size: MemSize::B,
                signed: false,
            });
            self.emit(Inst::Load {
                dst: y,
                addr: pb.offset(i as i32),
                size: MemSize::B,
                signed: false,
            });
            let same = self.new_block();
            self.terminate(Terminator::Branch {
                cond: CmpOp::Ne,
                lhs: x,
                rhs: Operand::Reg(y),
                then: differ,
                otherwise: same,
            });
            self.switch_to(same);
            let next = self.new_block();
            self.branch_if_zero(x, equal, next);
            self.switch_to(next);
        }
    }
}

/// The ALU operation of an arithmetic or bitwise operator.
fn alu_op(op: BinaryOp, signed: bool) -> AluOp {
    match op {
        BinaryOp::Add => AluOp::Add,
        BinaryOp::Sub => AluOp::Sub,
        BinaryOp::Mul => AluOp::Mul,
        BinaryOp::Div if signed => AluOp::SDiv,
        BinaryOp::Div => AluOp::Div,
        BinaryOp::Mod if signed => AluOp::SMod,
        BinaryOp::Mod => AluOp::Mod,
        BinaryOp::BitAnd => AluOp::And,
        BinaryOp::BitOr => AluOp::Or,
        BinaryOp::BitXor => AluOp::Xor,
        BinaryOp::Shl => AluOp::Lsh,
        BinaryOp::Shr if signed => AluOp::Arsh,
        BinaryOp::Shr => AluOp::Rsh,
        _ => unreachable!("comparisons and logic operators are lowered as branches"),
    }
}

/// Map iteration: `for ($kv : @map)` and `len(@map)` run a callback of
/// `bpf_for_each_map_elem`. A callback is a function of its own with its own stack, so the
/// variables it shares with the code around the loop travel through an area of the
/// per-CPU scratch map: copied there before the helper runs and back after it.
impl LowerCx<'_> {
    /// A new area of `size` bytes in the scratch map's value; returns its offset.
    fn scratch_area(&mut self, size: u32) -> i32 {
        let at = self.scratch.used.get();
        self.scratch.used.set(at + size.div_ceil(8) * 8);
        at as i32
    }

    /// The index of the map that holds the stacks `bpf_get_stackid` takes.
    pub fn stack_map(&mut self) -> u32 {
        self.scratch.stacks_used.set(true);
        self.scratch.map + 1
    }

    /// A pointer to this CPU's scratch value; where there is none, control goes to
    /// `missing`.
    fn scratch_value(&mut self, missing: BlockId) -> VReg {
        let key = self.zeroed_slot(4);
        let ptr = self.lookup(self.scratch.map, Addr::Stack { slot: key, off: 0 });
        let found = self.new_block();
        self.branch_if_zero(ptr, missing, found);
        self.switch_to(found);
        ptr
    }

    /// Builds a callback with `body`, which starts in the callback's entry block after its
    /// key (returned first) and value pointers are read; returns the function's number.
    fn callback(
        &mut self,
        body: &mut dyn FnMut(&mut LowerCx, VReg, VReg) -> Result<(), Diagnostic>,
    ) -> Result<u32, Diagnostic> {
        let func = Function {
            name: String::new(),
            blocks: vec![],
            slots: vec![],
            vregs: 0,
        };
        let mut cx = LowerCx {
            func,
            cur: BlockId(0),
            span: self.span,
            ctx: VReg(0),
            attach: self.attach,
            vars: vec![HashMap::new()],
            var_types: self.var_types,
            loops: vec![],
            entry_inits: 0,
            temp_slots: vec![],
            free_slots: vec![],
            maps: self.maps,
            events: &mut *self.events,
            builtins: self.builtins,
            ringbuf: self.ringbuf,
            lost_events: self.lost_events,
            callbacks: &mut *self.callbacks,
            scratch: self.scratch,
            exit_to: None,
        };
        let entry = cx.new_block();
        cx.switch_to(entry);
        let key = cx.vreg();
        cx.emit(Inst::Arg { dst: key, n: 2 });
        let value = cx.vreg();
        cx.emit(Inst::Arg { dst: value, n: 3 });
        // Variable initialisation goes after both argument reads.
        cx.entry_inits = 1;
        // The callback has no context: the checker keeps `args` out of loop bodies.
        cx.ctx = cx.copy(Operand::Imm(0));
        body(&mut cx, key, value)?;
        let mut func = cx.func;
        let number = self.callbacks.len() + 1;
        func.name = format!("callback{number}");
        self.callbacks.push(func);
        Ok(number as u32)
    }

    /// `bpf_for_each_map_elem(map, callback, NULL, 0)`.
    fn for_each(&mut self, map: u32, callback: u32) {
        let m = self.map_ref(map);
        let f = self.vreg();
        self.emit(Inst::FuncAddr {
            dst: f,
            func: callback,
        });
        self.call(
            helper::FOR_EACH_MAP_ELEM,
            vec![
                Operand::Reg(m),
                Operand::Reg(f),
                Operand::Imm(0),
                Operand::Imm(0),
            ],
        );
    }

    /// String `s` with its NUL, built on the stack.
    pub fn string_constant(&mut self, s: &str) -> Value {
        let len = s.len() as u32 + 1;
        let slot = self.zeroed_slot(len);
        for (i, chunk) in s.as_bytes().chunks(8).enumerate() {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            let v = self.copy(Operand::Imm(i64::from_le_bytes(b)));
            self.emit(Inst::Store {
                addr: Addr::Stack {
                    slot,
                    off: i as i32 * 8,
                },
                src: Operand::Reg(v),
                size: MemSize::DW,
            });
        }
        Value::Mem {
            addr: Addr::Stack { slot, off: 0 },
            len,
        }
    }

    /// A value userspace writes into the scratch map before the probes attach (`cpid`,
    /// `elapsed`'s start); 0 where the map cannot be read.
    pub fn session_value(&mut self, which: crate::program::SessionValue) -> VReg {
        let known = self
            .scratch
            .session_values
            .borrow()
            .iter()
            .find(|(v, _)| *v == which)
            .map(|(_, at)| *at);
        let at = match known {
            Some(at) => at,
            None => {
                let at = self.scratch_area(8) as u32;
                self.scratch.session_values.borrow_mut().push((which, at));
                at
            }
        };
        let pid = self.copy(Operand::Imm(0));
        let done = self.new_block();
        let ptr = self.scratch_value(done);
        self.emit(Inst::Load {
            dst: pid,
            addr: Addr::Reg {
                base: ptr,
                off: at as i32,
            },
            size: MemSize::DW,
            signed: false,
        });
        self.terminate(Terminator::Jump(done));
        self.switch_to(done);
        pid
    }

    /// A new area of `size` bytes in this CPU's scratch value, its first 8 bytes zeroed;
    /// returns its offset and its address. Without a value, control goes to `missing`.
    fn loop_area(&mut self, size: u32, missing: BlockId) -> (i32, Addr) {
        let area = self.scratch_area(size);
        let ptr = self.scratch_value(missing);
        let base = Addr::Reg {
            base: ptr,
            off: area,
        };
        self.emit(Inst::Store {
            addr: base,
            src: Operand::Imm(0),
            size: MemSize::DW,
        });
        (area, base)
    }

    /// `len(@map)`: the number of elements, counted by a callback.
    pub fn map_len(&mut self, map: u32) -> VReg {
        let count = self.copy(Operand::Imm(0));
        let done = self.new_block();
        let (area, counter) = self.loop_area(8, done);
        let callback = self
            .callback(&mut |cx, _, _| {
                let stop = cx.new_block();
                let ptr = cx.scratch_value(stop);
                let one = cx.copy(Operand::Imm(1));
                cx.emit(Inst::AtomicAdd {
                    addr: Addr::Reg {
                        base: ptr,
                        off: area,
                    },
                    src: one,
                });
                cx.terminate(Terminator::Return(Operand::Imm(0)));
                cx.switch_to(stop);
                cx.terminate(Terminator::Return(Operand::Imm(1)));
                Ok(())
            })
            .expect("counting cannot fail");
        self.for_each(map, callback);
        self.emit(Inst::Load {
            dst: count,
            addr: counter,
            size: MemSize::DW,
            signed: false,
        });
        self.terminate(Terminator::Jump(done));
        self.switch_to(done);
        count
    }

    /// `for ($kv : @map) { body }`.
    fn for_map(&mut self, var: &Ident, map: &Ident, body: &Block) -> Result<(), Diagnostic> {
        let (index, meta) = self.script_map(map);
        let script = meta.script.as_ref().expect("script map");
        let key_ty = match script.key.as_slice() {
            [(one, _)] => one.clone(),
            many => Type::Tuple(many.iter().map(|(t, _)| t.clone()).collect()),
        };
        let kv_ty = Type::Tuple(vec![key_ty.clone(), script.value.clone()]);
        // Every variable in scope is shared: its name and where it sits in the area, after
        // the flag that says `return` or `exit()` ran in the body.
        let mut shared: Vec<(String, Var, i32)> = vec![];
        let mut size = 8;
        let mut seen = std::collections::HashSet::new();
        for scope in self.vars.iter().rev() {
            for (name, var) in scope {
                if let Some(var) = var {
                    if seen.insert(name.clone()) {
                        shared.push((name.clone(), var.clone(), size as i32));
                        size += var_bytes(var);
                    }
                }
            }
        }
        shared.sort_by(|a, b| a.0.cmp(&b.0));
        let mut at = 8;
        for s in &mut shared {
            s.2 = at;
            at += var_bytes(&s.1) as i32;
        }
        let after = self.new_block();
        let (area, base) = self.loop_area(size, after);
        for (_, var, off) in &shared {
            self.save_var(var, base.offset(*off));
        }
        let span = self.span;
        let callback = self.callback(&mut |cx, key, value| {
            cx.span = span;
            let stop = cx.new_block();
            let ptr = cx.scratch_value(stop);
            let base = Addr::Reg {
                base: ptr,
                off: area,
            };
            let mut vars = HashMap::new();
            let mut scalars = vec![];
            for (name, var, off) in &shared {
                let value = match var.value {
                    Value::Scalar(_) => {
                        let r = cx.load_u64(base.offset(*off));
                        scalars.push((r, *off));
                        Value::Scalar(r)
                    }
                    Value::Mem { len, .. } => Value::Mem {
                        addr: base.offset(*off),
                        len,
                    },
                };
                let shared_var = Var {
                    value,
                    ..var.clone()
                };
                vars.insert(name.clone(), Some(shared_var));
            }
            // `$kv`: the key's bytes, then the value's, laid out as a tuple.
            let slot = cx.lasting_slot(kv_ty.size());
            let kv = Addr::Stack { slot, off: 0 };
            // Zeroed first: padding after a short key or value is copied whole later.
            for off in (0..kv_ty.size().div_ceil(8) * 8).step_by(8) {
                cx.emit(Inst::Store {
                    addr: kv.offset(off as i32),
                    src: Operand::Imm(0),
                    size: MemSize::DW,
                });
            }
            let offsets = kv_ty.tuple_offsets();
            cx.copy_mem(kv, Addr::Reg { base: key, off: 0 }, key_ty.size());
            let Type::Tuple(parts) = &kv_ty else {
                unreachable!("a tuple")
            };
            cx.copy_mem(
                kv.offset(offsets[1] as i32),
                Addr::Reg {
                    base: value,
                    off: 0,
                },
                parts[1].size(),
            );
            vars.insert(
                var.name.clone(),
                Some(Var {
                    value: Value::Mem {
                        addr: kv,
                        len: kv_ty.size(),
                    },
                    ty: kv_ty.clone(),
                    declared: None,
                }),
            );
            cx.vars = vec![vars];
            let next = cx.new_block();
            let brk = cx.new_block();
            let ret = cx.new_block();
            cx.loops.push((next, brk));
            cx.exit_to = Some(ret);
            cx.block(body)?;
            cx.terminate(Terminator::Jump(next));
            for (block, flag, code) in [(next, false, 0), (brk, false, 1), (ret, true, 1)] {
                cx.switch_to(block);
                if flag {
                    cx.emit(Inst::Store {
                        addr: base,
                        src: Operand::Imm(1),
                        size: MemSize::DW,
                    });
                }
                for (r, off) in &scalars {
                    cx.emit(Inst::Store {
                        addr: base.offset(*off),
                        src: Operand::Reg(*r),
                        size: MemSize::DW,
                    });
                }
                cx.terminate(Terminator::Return(Operand::Imm(code)));
            }
            cx.switch_to(stop);
            cx.terminate(Terminator::Return(Operand::Imm(1)));
            Ok(())
        })?;
        self.for_each(index, callback);
        for (_, var, off) in &shared {
            self.restore_var(var, base.offset(*off));
        }
        let flag = self.load_u64(base);
        let ended = self.new_block();
        self.terminate(Terminator::Branch {
            cond: CmpOp::Ne,
            lhs: flag,
            rhs: Operand::Imm(0),
            then: ended,
            otherwise: after,
        });
        self.switch_to(ended);
        self.return_now();
        self.terminate(Terminator::Jump(after));
        self.switch_to(after);
        Ok(())
    }

    /// Copies variable `var` to `at`.
    fn save_var(&mut self, var: &Var, at: Addr) {
        match var.value {
            Value::Scalar(r) => self.emit(Inst::Store {
                addr: at,
                src: Operand::Reg(r),
                size: MemSize::DW,
            }),
            Value::Mem { addr, len } => self.copy_mem(at, addr, len),
        }
    }

    /// Copies variable `var` back from `at`.
    fn restore_var(&mut self, var: &Var, at: Addr) {
        match var.value {
            Value::Scalar(r) => self.emit(Inst::Load {
                dst: r,
                addr: at,
                size: MemSize::DW,
                signed: false,
            }),
            Value::Mem { addr, len } => self.copy_mem(addr, at, len),
        }
    }
}

/// Bytes a variable takes in a loop's scratch area.
fn var_bytes(var: &Var) -> u32 {
    match var.value {
        Value::Scalar(_) => 8,
        Value::Mem { len, .. } => len.div_ceil(8) * 8,
    }
}
