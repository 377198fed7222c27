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
