//! The stages as library calls, for the error paths a script alone cannot reach.

use probe_compiler::bpf::Insn;
use probe_lang::diagnostic;
use probe_stdlib::Stdlib;

#[test]
fn local_verifier_rejection_points_at_the_script() {
    let src = "BEGIN\n{\n  @x = count();\n}\n";
    let checked = probe_lang::check(probe_lang::parse(src).unwrap(), &Stdlib).unwrap();
    let mut compiled = probe_compiler::compile(&checked, &Stdlib).unwrap();
    assert!(probe_compiler::verify_program(&compiled).is_ok());
    // Break one instruction the way a code generator bug would.
    compiled.probes[0].insns[2] = Insn {
        code: 0xff,
        ..Insn::default()
    };
    let errors = probe_compiler::verify_program(&compiled).unwrap_err();
    insta::assert_snapshot!(diagnostic::render(&errors, "script.bt", src));
}

/// Inputs on which fuzzing once found a panic: every stage must now answer with errors.
#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let Ok(src) = std::str::from_utf8(&bytes) else {
            continue;
        };
        n += 1;
        let Ok(ast) = probe_lang::parse(src) else {
            continue;
        };
        let Ok(checked) = probe_lang::check(ast, &Stdlib) else {
            continue;
        };
        if let Ok(compiled) = probe_compiler::compile(&checked, &Stdlib) {
            let _ = probe_compiler::verify_program(&compiled);
        }
    }
    assert!(n > 0, "no regression inputs");
}

/// Where the kernel has trampolines but no kprobes, a kprobe becomes an fentry probe on
/// the same function: its arguments come from the same places as fentry's (the kernel
/// under test here has neither, and the qemu kernel has both, so the choice is tested
/// with the checker's switch, against this kernel's BTF).
#[test]
fn kprobes_become_fentry_probes_without_kprobes() {
    let src = "kprobe:vfs_read { @ = arg2; } kretprobe:vfs_read { @r = retval; }";
    let env = probe_lang::Environment {
        params: &[],
        tracepoints: &probe_lang::tracepoint::NoTracepoints,
        structs: &probe_runtime::btf::KernelStructs::default(),
        symbols: &probe_lang::symbols::NoSymbols,
        kprobes_as_fentry: true,
        pid: None,
        unsafe_allowed: false,
    };
    let checked = probe_lang::check_in(probe_lang::parse(src).unwrap(), &Stdlib, &env).unwrap();
    let kinds: Vec<String> = checked
        .probes
        .iter()
        .flat_map(|p| &p.points)
        .map(|p| format!("{:?}", p.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            "Fentry { function: \"vfs_read\", ret: false, nargs: 4 }",
            "Fentry { function: \"vfs_read\", ret: true, nargs: 4 }"
        ]
    );
    let compiled = probe_compiler::compile(&checked, &Stdlib).unwrap();
    assert!(probe_compiler::verify_program(&compiled).is_ok());
    let sections: Vec<&str> = compiled.probes.iter().map(|p| p.section.as_str()).collect();
    assert_eq!(sections, ["fentry/vfs_read", "fexit/vfs_read"]);
    // Without the switch they stay kprobes.
    let env = probe_lang::Environment {
        kprobes_as_fentry: false,
        ..env
    };
    let checked = probe_lang::check_in(probe_lang::parse(src).unwrap(), &Stdlib, &env).unwrap();
    assert!(matches!(
        checked.probes[0].points[0].kind,
        probe_lang::AttachKind::Kprobe { .. }
    ));
}
