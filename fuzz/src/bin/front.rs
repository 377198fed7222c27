//! Feeds arbitrary text through every stage that runs without a kernel: lexer, parser,
//! checker, compiler, local verifier. Any panic is a bug; errors are fine.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(src) = std::str::from_utf8(data) else { return };
        let Ok(ast) = probe_lang::parse(src) else { return };
        let Ok(checked) = probe_lang::check(ast, &probe_stdlib::Stdlib) else { return };
        if let Ok(compiled) = probe_compiler::compile(&checked, &probe_stdlib::Stdlib) {
            let _ = probe_compiler::verify_program(&compiled);
        }
    });
}
