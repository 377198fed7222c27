//! probe-runtime: loads a compiled program into the kernel, attaches its probes, reads the
//! ring buffer and the maps, and prints what bpftrace would print.

pub mod btf;
pub mod json;
pub mod kernel;
pub mod libbpf;
pub mod listing;
pub mod maps;
pub mod output;
pub mod perf;
pub mod resolve;
pub mod ringbuf;
pub mod session;
pub mod tracefs;
pub mod uprobe;
pub mod usdt;
