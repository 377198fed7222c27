//! Command-line interface: parses arguments and runs the pipeline up to the requested stage.

use crate::pipeline::{self, Source};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;

/// A bpftrace-compatible tracing language and compiler for Linux eBPF.
#[derive(Parser, Debug)]
#[command(name = "probe", version, about, long_about = None)]
struct Cli {
    /// A script file, or the program text itself, then the positional parameters `$1`,
    /// `$2`, ... (all of them are parameters with `-e`).
    #[arg(value_name = "SCRIPT [ARGS]")]
    positional: Vec<String>,
    /// The program text.
    #[arg(short = 'e', value_name = "PROGRAM")]
    program: Option<String>,
    /// Run this command, trace while it runs, stop when it exits.
    #[arg(short = 'c', value_name = "CMD")]
    command: Option<String>,
    /// Trace this process: uprobes attach to it only; tracing stops when it exits.
    #[arg(short = 'p', value_name = "PID")]
    pid: Option<i32>,
    /// Stop after this stage and print it (`elf` writes the object to `-o FILE`).
    #[arg(long, value_enum, value_name = "STAGE")]
    emit: Option<Emit>,
    /// With `--emit elf`, where to write the object; otherwise, where to write the output.
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Compile, verify and load into the kernel (verifier included), then stop.
    #[arg(long)]
    dry_run: bool,
    /// Run the `test:` probes, each once, and report which pass (exit status 1 if one fails).
    #[arg(long, conflicts_with = "bench")]
    test: bool,
    /// Time the `bench:` probes.
    #[arg(long)]
    bench: bool,
    /// List the places probes can attach (matching the pattern given as SCRIPT, e.g.
    /// 'tracepoint:sched:*'); with -v, each tracepoint's fields too.
    #[arg(short = 'l')]
    list: bool,
    /// Output format: bpftrace's text, or JSON (one object per line).
    #[arg(short = 'f', value_enum, default_value = "text", value_name = "FORMAT")]
    format: OutputFormat,
    /// Allow functions that change the system: `system()`, `signal()`.
    #[arg(long = "unsafe")]
    unsafe_allowed: bool,
    /// Print every builtin variable, function and aggregation with one line of docs.
    #[arg(long)]
    help_builtins: bool,
    /// More detail: the kernel verifier's log and libbpf's messages.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
}

/// How output is printed (`-f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// bpftrace's text output.
    Text,
    /// One JSON object per line, as bpftrace's `-f json`.
    Json,
}

/// A stage of the pipeline that `--emit` stops after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The syntax tree.
    Ast,
    /// The intermediate representation of each probe.
    Ir,
    /// The eBPF instructions of each probe, with their source lines.
    Asm,
    /// The BPF ELF object.
    Elf,
}

/// Runs the CLI; returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    if cli.help_builtins {
        use std::io::Write;
        let _ = std::io::stdout().write_all(probe_stdlib::help().as_bytes());
        return 0;
    }
    if cli.list {
        return match probe_runtime::listing::list(
            cli.positional.first().map(String::as_str),
            cli.verbose > 0,
        ) {
            Ok(text) => {
                use std::io::Write;
                // A reader that stops early (`| head`) is not an error.
                let _ = std::io::stdout().write_all(text.as_bytes());
                0
            }
            Err(e) => {
                eprintln!("probe: {e}");
                1
            }
        };
    }
    let (script, params) = match &cli.program {
        Some(_) => (None, cli.positional.clone()),
        None => match cli.positional.split_first() {
            Some((s, rest)) => (Some(s.clone()), rest.to_vec()),
            None => (None, vec![]),
        },
    };
    let source = match (&cli.program, &script) {
        (Some(text), _) => Source {
            name: "stdin".into(),
            text: text.clone(),
        },
        (None, Some(s)) if std::path::Path::new(s).is_file() => match std::fs::read_to_string(s) {
            Ok(text) => Source {
                name: s.clone(),
                text,
            },
            Err(e) => {
                eprintln!("probe: cannot read {s}: {e}");
                return 1;
            }
        },
        (None, Some(s)) => Source {
            name: "stdin".into(),
            text: s.clone(),
        },
        (None, None) => {
            eprintln!("probe: no program given\nusage: probe 'PROGRAM' | probe -e 'PROGRAM' | probe FILE.bt");
            return 1;
        }
    };
    let options = pipeline::Options {
        emit: cli.emit,
        output: cli.output,
        dry_run: cli.dry_run,
        verbose: cli.verbose,
        command: cli.command,
        params,
        pid: cli.pid,
        unsafe_allowed: cli.unsafe_allowed,
        format: match cli.format {
            OutputFormat::Text => probe_runtime::json::Format::Text,
            OutputFormat::Json => probe_runtime::json::Format::Json,
        },
        mode: if cli.test {
            probe_runtime::session::Mode::Test
        } else if cli.bench {
            probe_runtime::session::Mode::Bench
        } else {
            probe_runtime::session::Mode::Trace
        },
    };
    pipeline::run(&source, &options)
}
