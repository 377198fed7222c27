//! `probe`: a bpftrace-compatible tracer for Linux eBPF with its own compiler.

mod cli;
mod pipeline;

fn main() {
    std::process::exit(cli::main());
}
