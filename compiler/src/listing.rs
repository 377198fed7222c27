//! The `--emit asm` listing: each program's instructions in the kernel's notation, under
//! the source lines they came from.

use crate::bpf::disasm::disassemble;
use crate::CompiledProgram;

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
