//! probe-compiler: lowers a checked probe program to eBPF and writes a BPF ELF object.

pub mod bpf;
