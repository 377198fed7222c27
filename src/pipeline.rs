//! The stages wired together: parse, check, compile, verify locally, write the object,
//! then load, attach and print through the runtime. Each stage is a plain function, so
//! `--emit` can stop after any of them.

use crate::cli::Emit;
use probe_compiler::{object, CompiledProgram};
use probe_lang::imports::{parse_script, ScriptLoader};
use probe_lang::sources::Sources;
use probe_lang::{diagnostic, Diagnostic};
use probe_stdlib::Stdlib;
use std::path::{Component, Path, PathBuf};

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
    /// The positional parameters `$1`, `$2`, ...
    pub params: Vec<String>,
    /// The process to trace (`-p`).
    pub pid: Option<i32>,
    /// Trace, or run the test or bench probes.
    pub mode: probe_runtime::session::Mode,
    /// `--unsafe`: allow `system()` and `signal()`.
    pub unsafe_allowed: bool,
    /// Text, or bpftrace's JSON (`-f json`).
    pub format: probe_runtime::json::Format,
}

/// Reads imported files from the file system, relative to the importing file's directory
/// (the current directory for a script given with `-e`).
struct FileLoader;

impl ScriptLoader for FileLoader {
    fn load(&self, path: &str, importer: &str) -> Result<(String, String), String> {
        let dir = match Path::new(importer).parent() {
            Some(d) if importer != "stdin" => d.to_path_buf(),
            _ => PathBuf::new(),
        };
        // Without `.` and `dir/..` components, so that one file has one name.
        let mut file = PathBuf::new();
        for c in dir.join(path).components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir
                    if matches!(file.components().next_back(), Some(Component::Normal(_))) =>
                {
                    file.pop();
                }
                c => file.push(c),
            }
        }
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        Ok((file.display().to_string(), text))
    }
}

/// True if a probe of the script attaches to a kprobe.
fn uses_kprobes(ast: &probe_lang::ast::Program) -> bool {
    ast.probes.iter().flat_map(|p| &p.attach_points).any(|ap| {
        matches!(
            probe_lang::AttachKind::parse(&ap.text, ap.span),
            Ok(probe_lang::AttachKind::Kprobe { .. })
        )
    })
}

/// Compiles `source` through every stage up to the object; on errors prints them and
/// returns `Err(exit status)`.
fn front(source: &Source, options: &Options) -> Result<(CompiledProgram, Vec<u8>), i32> {
    let mut sources = Sources::new(source.name.as_str(), source.text.as_str());
    let parsed = parse_script(&mut sources, &FileLoader);
    let report = |diags: Vec<Diagnostic>| {
        eprint!("{}", diagnostic::render_sources(&diags, &sources));
        1
    };
    let ast = parsed.map_err(report)?;
    if options.emit == Some(Emit::Ast) {
        println!("{ast:#?}");
        return Err(0);
    }
    let env = probe_lang::Environment {
        params: &options.params,
        tracepoints: &probe_runtime::tracefs::TracefsFormats,
        structs: &probe_runtime::btf::KernelStructs::default(),
        symbols: &probe_runtime::uprobe::ElfFunctions,
        // Probing the kernel for trampolines loads a program: only for kprobe scripts.
        kprobes_as_fentry: uses_kprobes(&ast)
            && !probe_runtime::kernel::kprobes_supported()
            && probe_runtime::kernel::trampolines_supported(),
        pid: options.pid.map(|p| p as u32),
        unsafe_allowed: options.unsafe_allowed,
    };
    let checked = probe_lang::check_in(ast, &Stdlib, &env).map_err(report)?;
    for point in checked.probes.iter().flat_map(|p| &p.points) {
        if let (true, probe_lang::AttachKind::Fentry { .. }) = (env.kprobes_as_fentry, &point.kind)
        {
            if point.text.starts_with('k') {
                eprintln!(
                    "probe: {}: this kernel has no kprobes; attaching {} instead",
                    point.text,
                    point.kind.text()
                );
            }
        }
    }
    let compiled = probe_compiler::compile(&checked, &Stdlib).map_err(report)?;
    if options.emit == Some(Emit::Ir) {
        for p in &compiled.probes {
            println!("; {}", p.attach_text);
            for f in &p.ir {
                print!("{f}");
            }
        }
        return Err(0);
    }
    probe_compiler::verify_program(&compiled).map_err(report)?;
    if options.emit == Some(Emit::Asm) {
        print!(
            "{}",
            probe_compiler::listing::asm_listing(&compiled, &source.text)
        );
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
        pid: options.pid,
        mode: options.mode,
        format: options.format,
    };
    match probe_runtime::session::run(&compiled, &elf, &Stdlib, &session) {
        Ok(()) => 0,
        Err(e) => {
            // A failing test has said so in its report already.
            if !e.message.is_empty() {
                eprintln!("{e}");
            }
            1
        }
    }
}
