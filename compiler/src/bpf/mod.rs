//! The eBPF instruction set: encoding, disassembly and the local verifier.

pub mod insn;

pub use insn::Insn;
