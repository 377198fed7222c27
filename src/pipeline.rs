//! The stages wired together: parse, check, compile, verify locally, write the object,
//! then load, attach and print through the runtime. Each stage is a plain function, so
//! `--emit` can stop after any of them.

use crate::cli::Emit;
use probe_compiler::bpf::disasm::disassemble;
use probe_compiler::bpf::verify::{verify, VerifyEnv};
use probe_compiler::{object, CompiledProgram};
use probe_lang::{diagnostic, Diagnostic};
use probe_stdlib::Stdlib;
use std::path::PathBuf;

/// The script and the name to show for it in diagnostics.
pub struct Source {
    pub name: String,
    pub text: String,
}

/// What the command line asked for.
pub struct Options {
    pub emit: Option<Emit>,
    pub output: Option<PathBuf>,
    pub dry_run: bool,
    pub verbose: u8,
    pub command: Option<String>,
}

/// Compiles `source` through every stage up to the object; on errors prints them and
/// returns `Err(exit status)`.
fn front(source: &Source, options: &Options) -> Result<(CompiledProgram, Vec<u8>), i32> {
    let report = |diags: Vec<Diagnostic>| {
        eprint!("{}", diagnostic::render(&diags, &source.name, &source.text));
        1
    };
    let ast = probe_lang::parse(&source.text).map_err(report)?;
    if options.emit == Some(Emit::Ast) {
        println!("{ast:#?}");
        return Err(0);
    }
    let checked = probe_lang::check(ast, &Stdlib).map_err(report)?;
    let compiled = probe_compiler::compile(&checked, &Stdlib).map_err(report)?;
    if options.emit == Some(Emit::Ir) {
        for p in &compiled.probes {
            println!("; {}", p.attach_text);
            print!("{}", p.ir);
        }
        return Err(0);
    }
    verify_locally(&compiled).map_err(report)?;
    if options.emit == Some(Emit::Asm) {
        print!("{}", asm_listing(&compiled, &source.text));
        return Err(0);
    }
    let elf = object::write_elf(&compiled.object_def()).map_err(|e| {
        eprintln!("probe: cannot write the BPF object: {e}");
        1
    })?;
    Ok((compiled, elf))
}

/// Runs the whole pipeline; returns the exit status.
pub fn run(source: &Source, options: &Options) -> i32 {
    let (compiled, elf) = match front(source, options) {
        Ok(x) => x,
        Err(status) => return status,
    };
    if options.emit == Some(Emit::Elf) {
        let Some(path) = &options.output else {
            eprintln!("probe: --emit elf needs -o FILE");
            return 1;
        };
        return match std::fs::write(path, &elf) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("probe: cannot write {}: {e}", path.display());
                1
            }
        };
    }
    if let Some(path) = &options.output {
        if let Err(e) = probe_runtime::session::redirect_stdout(path) {
            eprintln!("probe: cannot write {}: {e}", path.display());
            return 1;
        }
    }
    let session = probe_runtime::session::Options {
        dry_run: options.dry_run,
        verbose: options.verbose,
        command: options.command.clone(),
    };
    match probe_runtime::session::run(&compiled, &elf, &Stdlib, &session) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// Runs the local verifier on every program; a rejection points at the script.
fn verify_locally(compiled: &CompiledProgram) -> Result<(), Vec<Diagnostic>> {
    let env_for =
        |p: &probe_compiler::CompiledProbe| VerifyEnv::new(p.ctx_size, compiled.maps.len() as u32);
    let errors: Vec<Diagnostic> = compiled
        .probes
        .iter()
        .filter_map(|p| {
            verify(&p.insns, &env_for(p)).err().map(|e| {
                let span = p.insn_spans.get(e.insn).copied().unwrap_or(p.span);
                Diagnostic::error(
                    span,
                    format!("the BPF verifier would reject this probe: {}", e.message),
                )
                .with_label(format!("instruction {} comes from here", e.insn))
                .with_related(p.span, format!("in the program for {}", p.attach_text))
                .with_note(
                    "this is a bug in probe's code generator: please report it with the script",
                )
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The disassembly of every program, each instruction group under the source line it came
/// from.
pub fn asm_listing(compiled: &CompiledProgram, source: &str) -> String {
    let mut out = String::new();
    let line_of = |offset: u32| {
        source[..(offset as usize).min(source.len())]
            .matches('\n')
            .count()
    };
    let lines: Vec<&str> = source.lines().collect();
    for p in &compiled.probes {
        out.push_str(&format!(
            "{} ({}, section {}):\n",
            p.attach_text, p.program_name, p.section
        ));
        let names = |i: i32| compiled.maps.get(i as usize).map(|m| m.object_name.clone());
        let text = disassemble(&p.insns, &names);
        let mut last_line = None;
        let mut pc = 0usize;
        for l in text.lines() {
            // Each listed line starts with its instruction number.
            if let Some(n) = l
                .trim_start()
                .split(':')
                .next()
                .and_then(|n| n.parse::<usize>().ok())
            {
                pc = n;
            }
            let line = p.insn_spans.get(pc).map(|s| line_of(s.start));
            if line != last_line {
                if let Some(n) = line {
                    out.push_str(&format!(
                        "; {} (line {})\n",
                        lines.get(n).map(|s| s.trim()).unwrap_or(""),
                        n + 1
                    ));
                }
                last_line = line;
            }
            out.push_str(l);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}
