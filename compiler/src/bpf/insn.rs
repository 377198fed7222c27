//! One eBPF instruction, its fields and their 8-byte encoding.

/// Instruction classes (low 3 bits of the opcode).
pub mod class {
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const ST: u8 = 0x02;
    pub const STX: u8 = 0x03;
    pub const ALU: u8 = 0x04;
    pub const JMP: u8 = 0x05;
    pub const JMP32: u8 = 0x06;
    pub const ALU64: u8 = 0x07;
}

/// Operand source bit for ALU and jump instructions.
pub mod source {
    /// The operand is the 32-bit immediate.
    pub const K: u8 = 0x00;
    /// The operand is the source register.
    pub const X: u8 = 0x08;
}

/// ALU operations (high 4 bits of the opcode).
pub mod alu {
    pub const ADD: u8 = 0x00;
    pub const SUB: u8 = 0x10;
    pub const MUL: u8 = 0x20;
    pub const DIV: u8 = 0x30;
    pub const OR: u8 = 0x40;
    pub const AND: u8 = 0x50;
    pub const LSH: u8 = 0x60;
    pub const RSH: u8 = 0x70;
    pub const NEG: u8 = 0x80;
    pub const MOD: u8 = 0x90;
    pub const XOR: u8 = 0xa0;
    pub const MOV: u8 = 0xb0;
    pub const ARSH: u8 = 0xc0;
    pub const END: u8 = 0xd0;
}

/// Jump operations (high 4 bits of the opcode).
pub mod jmp {
    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JGT: u8 = 0x20;
    pub const JGE: u8 = 0x30;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const JSGT: u8 = 0x60;
    pub const JSGE: u8 = 0x70;
    pub const CALL: u8 = 0x80;
    pub const EXIT: u8 = 0x90;
    pub const JLT: u8 = 0xa0;
    pub const JLE: u8 = 0xb0;
    pub const JSLT: u8 = 0xc0;
    pub const JSLE: u8 = 0xd0;
}

/// Memory access sizes (bits 3-4 of load/store opcodes).
pub mod size {
    pub const W: u8 = 0x00;
    pub const H: u8 = 0x08;
    pub const B: u8 = 0x10;
    pub const DW: u8 = 0x18;
}

/// Memory access modes (high 3 bits of load/store opcodes).
pub mod mode {
    pub const IMM: u8 = 0x00;
    pub const MEM: u8 = 0x60;
    pub const MEMSX: u8 = 0x80;
    pub const ATOMIC: u8 = 0xc0;
}

/// `src` of a `call` to another BPF function of the same program.
pub const PSEUDO_CALL: u8 = 1;
/// `src` of a `call` to a kernel function (kfunc).
pub const PSEUDO_KFUNC_CALL: u8 = 2;

/// Atomic operations' `imm` flag: the old value is returned in the source register.
pub const ATOMIC_FETCH: i32 = 0x01;
/// Atomic exchange (always fetches).
pub const ATOMIC_XCHG: i32 = 0xe0 | ATOMIC_FETCH;
/// Atomic compare-and-exchange against r0 (always fetches).
pub const ATOMIC_CMPXCHG: i32 = 0xf0 | ATOMIC_FETCH;
/// Atomic load-acquire.
pub const ATOMIC_LOAD_ACQ: i32 = 0x100;
/// Atomic store-release.
pub const ATOMIC_STORE_REL: i32 = 0x110;

/// `src` value of an `lddw` whose immediate is a map file descriptor.
pub const PSEUDO_MAP_FD: u8 = 1;
/// `src` value of an `lddw` that loads the address of a function of the same program (a
/// callback); its immediate is the function's first instruction relative to the next one.
pub const PSEUDO_FUNC: u8 = 4;

/// The frame pointer register, read-only.
pub const R10: u8 = 10;

/// One eBPF instruction, as the kernel's `struct bpf_insn` lays it out.
///
/// A 64-bit immediate load (`lddw`) occupies two consecutive `Insn`s; the second has
/// `code == 0` and carries the upper 32 bits in `imm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// An instruction from its raw fields.
    pub fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The instruction class (low 3 bits of the opcode).
    pub fn class(&self) -> u8 {
        self.code & 0x07
    }

    /// The 8-byte little-endian encoding.
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.dst & 0x0f) | ((self.src & 0x0f) << 4);
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }

    /// Decodes one instruction from its 8-byte little-endian encoding.
    pub fn decode(b: &[u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// `dst = imm` (64-bit move of a sign-extended 32-bit immediate).
    pub fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn {
            code: class::ALU64 | alu::MOV | source::K,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }

    /// `dst = src` (64-bit register move).
    pub fn mov64_reg(dst: u8, src: u8) -> Insn {
        Insn {
            code: class::ALU64 | alu::MOV | source::X,
            dst,
            src,
            off: 0,
            imm: 0,
        }
    }

    /// A 64-bit ALU operation with an immediate operand.
    pub fn alu64_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn {
            code: class::ALU64 | op | source::K,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }

    /// A 64-bit ALU operation with a register operand.
    pub fn alu64_reg(op: u8, dst: u8, src: u8) -> Insn {
        Insn {
            code: class::ALU64 | op | source::X,
            dst,
            src,
            off: 0,
            imm: 0,
        }
    }

    /// `dst = *(size *)(src + off)`.
    pub fn load(sz: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: class::LDX | mode::MEM | sz,
            dst,
            src,
            off,
            imm: 0,
        }
    }

    /// `*(size *)(dst + off) = src`.
    pub fn store_reg(sz: u8, dst: u8, off: i16, src: u8) -> Insn {
        Insn {
            code: class::STX | mode::MEM | sz,
            dst,
            src,
            off,
            imm: 0,
        }
    }

    /// `*(size *)(dst + off) = imm`.
    pub fn store_imm(sz: u8, dst: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code: class::ST | mode::MEM | sz,
            dst,
            src: 0,
            off,
            imm,
        }
    }

    /// The two halves of `dst = imm64`.
    pub fn ld_imm64(dst: u8, imm: u64) -> [Insn; 2] {
        [
            Insn {
                code: class::LD | mode::IMM | size::DW,
                dst,
                src: 0,
                off: 0,
                imm: imm as u32 as i32,
            },
            Insn {
                code: 0,
                dst: 0,
                src: 0,
                off: 0,
                imm: (imm >> 32) as u32 as i32,
            },
        ]
    }

    /// The two halves of `dst = map` (a map reference relocated at load time).
    /// True for the first half of an `lddw` of a function's address.
    pub fn is_func_ref(&self) -> bool {
        self.code == class::LD | mode::IMM | size::DW && self.src == PSEUDO_FUNC
    }

    /// `dst = &function`, `rel` instructions after this `lddw`'s second half.
    pub fn ld_func(dst: u8, rel: i32) -> [Insn; 2] {
        [
            Insn {
                code: class::LD | mode::IMM | size::DW,
                dst,
                src: PSEUDO_FUNC,
                off: 0,
                imm: rel,
            },
            Insn::default(),
        ]
    }

    pub fn ld_map_fd(dst: u8, fd: i32) -> [Insn; 2] {
        [
            Insn {
                code: class::LD | mode::IMM | size::DW,
                dst,
                src: PSEUDO_MAP_FD,
                off: 0,
                imm: fd,
            },
            Insn::default(),
        ]
    }

    /// A conditional jump comparing `dst` with an immediate, `off` instructions ahead.
    pub fn jmp_imm(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn {
            code: class::JMP | op | source::K,
            dst,
            src: 0,
            off,
            imm,
        }
    }

    /// A conditional jump comparing `dst` with `src`, `off` instructions ahead.
    pub fn jmp_reg(op: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: class::JMP | op | source::X,
            dst,
            src,
            off,
            imm: 0,
        }
    }

    /// An unconditional jump `off` instructions ahead.
    pub fn ja(off: i16) -> Insn {
        Insn {
            code: class::JMP | jmp::JA,
            dst: 0,
            src: 0,
            off,
            imm: 0,
        }
    }

    /// A call of helper number `helper`.
    pub fn call(helper: i32) -> Insn {
        Insn {
            code: class::JMP | jmp::CALL,
            dst: 0,
            src: 0,
            off: 0,
            imm: helper,
        }
    }

    /// `exit`: return r0.
    pub fn exit() -> Insn {
        Insn {
            code: class::JMP | jmp::EXIT,
            dst: 0,
            src: 0,
            off: 0,
            imm: 0,
        }
    }

    /// `lock *(size *)(dst + off) += src` (atomic add, no fetch).
    pub fn atomic_add(sz: u8, dst: u8, off: i16, src: u8) -> Insn {
        Insn {
            code: class::STX | mode::ATOMIC | sz,
            dst,
            src,
            off,
            imm: alu::ADD as i32,
        }
    }
}

/// Encodes a whole program to bytes.
pub fn encode_all(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.encode()).collect()
}

/// Decodes a whole program from bytes (a trailing partial instruction is ignored).
pub fn decode_all(bytes: &[u8]) -> Vec<Insn> {
    bytes
        .chunks_exact(8)
        .map(|c| Insn::decode(c.try_into().expect("8 bytes")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let i = Insn::load(size::DW, 1, R10, -8);
        assert_eq!(i.encode(), [0x79, 0xa1, 0xf8, 0xff, 0, 0, 0, 0]);
        assert_eq!(Insn::decode(&i.encode()), i);
    }
}
