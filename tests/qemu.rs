//! Probes this machine's kernel cannot attach (kprobes; BPF trampolines) run on a second
//! kernel: Debian's own, under qemu (tests/qemu/run.sh, which can also run alone).

use std::process::Command;

#[test]
fn second_kernel_under_qemu() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/qemu/run.sh");
    let o = Command::new(script)
        .env("PROBE_BIN", env!("CARGO_BIN_EXE_probe"))
        .output()
        .expect("tests/qemu/run.sh runs");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}{err}");
    for case in [
        "kprobe",
        "kprobe_offset",
        "kprobe_wildcard",
        "fentry",
        "iter",
        "listing",
    ] {
        assert!(out.contains(&format!("qemu: {case} ok")), "{out}");
    }
}
