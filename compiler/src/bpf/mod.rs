//! The eBPF instruction set: encoding, disassembly and the local verifier.

pub mod disasm;
pub mod insn;
pub mod verify;

pub use disasm::disassemble;
pub use insn::Insn;
pub use verify::{verify, VerifyEnv, VerifyError};
