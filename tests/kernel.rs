//! End-to-end runs of the binary on the real kernel (root): load, attach, trigger events,
//! read the output.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

/// Kernel tests run one at a time: they count programs and events system-wide.
static KERNEL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn kernel() -> std::sync::MutexGuard<'static, ()> {
    require_root();
    KERNEL.lock().unwrap_or_else(|e| e.into_inner())
}

const DD: &str = "dd if=/dev/zero of=/dev/null bs=1 count=1000";

/// `@[dd]: N` where N is dd's reads: 1000 of the data plus the few of its startup.
fn assert_dd_count(out: &str) {
    let line = out
        .lines()
        .find(|l| l.starts_with("@[dd]: "))
        .unwrap_or_else(|| panic!("no @[dd] line in:\n{out}"));
    let n: u64 = line["@[dd]: ".len()..].parse().expect("a count");
    assert!((1000..1020).contains(&n), "dd read {n} times:\n{out}");
}

#[test]
fn one_liner_with_command_counts_reads_by_comm() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "tracepoint:syscalls:sys_enter_read /comm == \"dd\"/ { @[comm] = count(); }",
        "-c",
        DD,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_dd_count(&out);
    let n = out.lines().last().unwrap().trim_start_matches("@[dd]: ");
    assert_eq!(out, format!("Attaching 1 probe...\n\n\n@[dd]: {n}\n"));
}

#[test]
fn output_matches_bpftrace_byte_for_byte() {
    let _k = kernel();
    let script = "tracepoint:syscalls:sys_enter_read /comm == \"dd\"/ { @[comm] = count(); }";
    let ours = run_probe(&["-e", script, "-c", DD]);
    let mut bt = std::process::Command::new("bpftrace");
    bt.args([
        "-e",
        script,
        "-c",
        "/bin/dd if=/dev/zero of=/dev/null bs=1 count=1000",
    ]);
    let theirs = run_with_timeout(bt, Duration::from_secs(60));
    assert!(
        theirs.status.success(),
        "bpftrace failed (is it installed? .ci/run installs it): {}",
        stderr(&theirs)
    );
    assert_eq!(stdout(&ours), stdout(&theirs));
}

#[test]
fn angle_bracket_block_runs_like_braces() {
    let _k = kernel();
    let o = run_probe(&[
        "tracepoint:syscalls:sys_enter_read /comm == \"dd\"/ < @[comm] = count(); >",
        "-c",
        DD,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_dd_count(&stdout(&o));
    let o = run_probe(&[
        "t:syscalls:sys_enter_read < if (pid > 1) { if (comm == \"dd\") { @x = count(); } } >",
        "-c",
        DD,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let n: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("@x: "))
        .expect("@x printed")
        .parse()
        .unwrap();
    assert!((1000..1020).contains(&n), "{out}");
}

#[test]
fn script_file_with_shebang() {
    let _k = kernel();
    let dir = std::env::temp_dir().join(format!("probe-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("count.bt");
    std::fs::write(&path, "#!/usr/bin/env probe\n// counts dd's reads\ntracepoint:syscalls:sys_enter_read\n/comm == \"dd\"/\n{\n  @[comm] = count();\n}\n").unwrap();
    let o = run_probe(&[path.to_str().unwrap(), "-c", DD]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_dd_count(&stdout(&o));
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs every `.bt` script of `dir` and compares its output with the `.out` beside it;
/// returns how many it checked.
fn check_expected_outputs(dir: &std::path::Path) -> usize {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bt") {
            let expected = std::fs::read_to_string(path.with_extension("out")).unwrap();
            let o = run_probe(&[path.to_str().unwrap()]);
            assert!(o.status.success(), "{}: {}", path.display(), stderr(&o));
            assert_eq!(stdout(&o), expected, "{}", path.display());
            checked += 1;
        }
    }
    checked
}

/// `tests/golden/`: each `.out` is what bpftrace 0.17 printed for the same script.
#[test]
fn golden_outputs_match_bpftrace() {
    let _k = kernel();
    assert!(
        check_expected_outputs(&golden_dir()) >= 4,
        "golden files missing"
    );
}

/// `tests/json/`: each `.out` is what bpftrace 0.17 printed with `-f json` for the same
/// script; `-f json` must print the same.
#[test]
fn json_outputs_match_bpftrace() {
    let _k = kernel();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/json");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bt") {
            let expected = std::fs::read_to_string(path.with_extension("out")).unwrap();
            let o = run_probe(&["-f", "json", path.to_str().unwrap()]);
            assert!(o.status.success(), "{}: {}", path.display(), stderr(&o));
            assert_eq!(stdout(&o), expected, "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 2, "json scripts missing");
    // The golden scripts print the same JSON as bpftrace 0.17 too.
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bt") {
            same_as_bpftrace(&["-f", "json", path.to_str().unwrap()]);
        }
    }
    // Events that do not come from a script file: join, cat, system.
    let out = same_as_bpftrace(&[
        "-f",
        "json",
        "-e",
        "tracepoint:syscalls:sys_enter_execve { join(args->argv); }",
        "-c",
        "/bin/true a b",
    ]);
    assert!(
        out.contains("{\"type\": \"join\", \"data\": \"/bin/true a b\"}\n"),
        "{out}"
    );
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/kills.sh");
    let script = format!(
        "BEGIN {{ cat(\"{}\"); system(\"echo hi\"); exit(); }}",
        file.display()
    );
    let out = same_as_bpftrace(&["-f", "json", "--unsafe", "-e", &script]);
    assert!(
        out.contains("{\"type\": \"syscall\", \"data\": \"hi\\n\"}\n"),
        "{out}"
    );
}

/// `tests/language/`: syntax bpftrace 0.17 does not have, with hand-checked output.
#[test]
fn language_outputs_match_expected() {
    let _k = kernel();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/language");
    assert!(check_expected_outputs(&dir) >= 1, "expected files missing");
}

#[test]
fn kprobe_is_refused_before_loading_with_an_alternative() {
    let _k = kernel();
    let before = loaded_program_names();
    let o = run_probe(&["kprobe:vfs_read < @[comm] = count(); >"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one clear line, got:\n{err}");
    assert!(err.contains("kprobe:vfs_read"), "{err}");
    assert!(err.contains("kprobe"), "{err}");
    assert!(err.contains("tracepoint"), "suggests an alternative: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let after = loaded_program_names();
    assert!(
        !after.iter().any(|n| n.starts_with("kprobe_vfs_rea")),
        "leaked: {after:?}"
    );
    assert!(
        after.len() <= before.len(),
        "programs leaked: {before:?} -> {after:?}"
    );
}

#[test]
fn dry_run_stops_after_the_kernel_verifier() {
    let _k = kernel();
    let o = run_probe(&["--dry-run", "kprobe:vfs_read < @[comm] = count(); >"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let o = run_probe(&[
        "--dry-run",
        "tracepoint:syscalls:sys_enter_read { @[comm] = count(); }",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn missing_tracepoint_is_one_clear_error() {
    let _k = kernel();
    let o = run_probe(&["tracepoint:syscalls:sys_enter_nonexistent { @ = count(); }"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("tracepoint:syscalls:sys_enter_nonexistent"),
        "{err}"
    );
    assert!(
        err.contains("not found") || err.contains("No such file"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn interval_printf_and_exit() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "interval:ms:50 { @ticks = count(); printf(\"tick %d\\n\", 7); } interval:s:1 { exit(); }",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Attaching 2 probes...\n"), "{out}");
    let ticks = out.lines().filter(|l| *l == "tick 7").count();
    assert!((10..=21).contains(&ticks), "{out}");
    let n: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("@ticks: "))
        .expect("map printed")
        .parse()
        .unwrap();
    assert_eq!(n, ticks, "{out}");
}

#[test]
fn builtins_have_plausible_values() {
    let _k = kernel();
    let o = run_probe(&["-e", "tracepoint:syscalls:sys_enter_getppid /comm == \"probe-getppid\"/ { printf(\"%d %d %d %s\\n\", pid, tid, cpu, comm); @t = nsecs; exit(); }", "-c", "python3 -c 'import os,ctypes; ctypes.CDLL(None).prctl(15, b\"probe-getppid\"); os.getppid()'"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let line = out.lines().nth(1).expect("a printf line");
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts.len(), 4, "{out}");
    let pid: u32 = parts[0].parse().unwrap();
    let tid: u32 = parts[1].parse().unwrap();
    let cpu: u32 = parts[2].parse().unwrap();
    assert_eq!(pid, tid, "a single-threaded process");
    assert!((cpu as usize) < 4096);
    assert_eq!(parts[3], "probe-getppid");
    let t: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("@t: "))
        .expect("@t")
        .parse()
        .unwrap();
    assert!(t > 0);
}

fn stop_with(signal: i32) {
    let _k = kernel();
    let mut child = probe()
        .args(["tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); } BEGIN { printf(\"ready\\n\"); }"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "Attaching 2 probes...");
    // BEGIN runs once every other probe is attached.
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    for _ in 0..5 {
        unsafe { libc::getppid() };
    }
    unsafe { libc::kill(child.id() as i32, signal) };
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let me = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    let me = me.trim();
    let line = rest
        .iter()
        .find(|l| l.starts_with(&format!("@[{me}]: ")))
        .unwrap_or_else(|| panic!("{rest:?}"));
    assert_eq!(line, &format!("@[{me}]: 5"), "{rest:?}");
    assert_eq!(&rest[..2], ["", ""], "{rest:?}");
}

#[test]
fn sigint_prints_maps_and_exits() {
    stop_with(libc::SIGINT);
}

#[test]
fn sigterm_prints_maps_and_exits() {
    stop_with(libc::SIGTERM);
}

#[test]
fn elf_object_is_readable_by_bpftool() {
    let _k = kernel();
    let dir = std::env::temp_dir().join(format!("probe-elf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("count.o");
    let o = run_probe(&[
        "--emit",
        "elf",
        "-o",
        obj.to_str().unwrap(),
        "tracepoint:syscalls:sys_enter_read { @[comm] = count(); } BEGIN { printf(\"hi\\n\"); }",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let btf = std::process::Command::new("bpftool")
        .args(["btf", "dump", "file", obj.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        btf.status.success(),
        "{}",
        String::from_utf8_lossy(&btf.stderr)
    );
    let btf = String::from_utf8_lossy(&btf.stdout);
    assert!(btf.contains("AT_") && btf.contains(".maps"), "{btf}");
    let pin =
        std::path::Path::new("/sys/fs/bpf").join(format!("probe-test-{}", std::process::id()));
    if !std::path::Path::new("/sys/fs/bpf").join(".").exists()
        || std::fs::read_dir("/sys/fs/bpf").is_err()
    {
        std::process::Command::new("mount")
            .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
            .status()
            .unwrap();
    }
    let load = std::process::Command::new("bpftool")
        .args([
            "prog",
            "loadall",
            obj.to_str().unwrap(),
            pin.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let listed = std::fs::read_dir(&pin).map(|d| {
        d.filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    });
    std::fs::remove_dir_all(&pin).ok();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let listed = listed.unwrap();
    assert!(
        listed.iter().any(|n| n.contains("tracepoint")),
        "{listed:?}"
    );
    assert!(listed.iter().any(|n| n.contains("BEGIN")), "{listed:?}");
}

#[test]
fn mounts_tracefs_when_it_is_missing() {
    let _k = kernel();
    let target = std::ffi::CString::new("/sys/kernel/tracing").unwrap();
    // Unmount every tracefs stacked there, so the run below starts from a fresh machine's state.
    while unsafe { libc::umount(target.as_ptr()) } == 0 {}
    let events = std::path::Path::new("/sys/kernel/tracing/events");
    assert!(
        !events.exists(),
        "tracefs is still mounted (busy?): {}",
        std::io::Error::last_os_error()
    );
    let o = run_probe(&[
        "tracepoint:syscalls:sys_enter_getppid { @ = count(); }",
        "-c",
        "true",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(events.exists(), "probe mounted tracefs");
}

#[test]
fn verbose_shows_libbpf_and_the_kernel_load() {
    let _k = kernel();
    let o = run_probe(&["-v", "--dry-run", "BEGIN { exit(); }"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("libbpf: "), "{}", stderr(&o));
    let o = run_probe(&["--dry-run", "BEGIN { exit(); }"]);
    assert_eq!(stderr(&o), "", "quiet without -v");
}

#[test]
fn output_file_receives_the_output() {
    let _k = kernel();
    let path = std::env::temp_dir().join(format!("probe-out-{}.txt", std::process::id()));
    let o = run_probe(&[
        "-o",
        path.to_str().unwrap(),
        "BEGIN { printf(\"to a file\\n\"); exit(); }",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let written = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(written, "Attaching 1 probe...\nto a file\n\n\n");
}

#[test]
fn end_runs_after_the_command_exits() {
    let _k = kernel();
    let o = run_probe(&["END { printf(\"end %d\\n\", 1); }", "-c", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Attaching 1 probe...\nend 1\n\n\n");
}

#[test]
fn command_not_found_is_one_clear_error() {
    let _k = kernel();
    let o = run_probe(&["BEGIN { exit(); }", "-c", "no-such-command-here --flag"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "probe: -c: command not found: no-such-command-here\n"
    );
}

#[test]
fn programs_are_gone_shortly_after_exit() {
    let _k = kernel();
    let o =
        run_probe(&["tracepoint:syscalls:sys_enter_getppid { @ = count(); } BEGIN { exit(); }"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The kernel's detach finishes in a helper process after probe exits.
    for _ in 0..100 {
        if !loaded_program_names()
            .iter()
            .any(|n| n.starts_with("tracepoint_sys"))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("programs still loaded: {:?}", loaded_program_names());
}

/// A `char[N]` field at an offset that is not a multiple of 8 (`comm` at 20 in
/// signal_generate, `rwbs` at 34 in block_rq_issue) is copied in aligned pieces: the
/// kernel refuses a context load that is not aligned to its size.
#[test]
fn tracepoint_strings_at_unaligned_offsets_load() {
    let _k = kernel();
    let o = run_probe(&[
        "--dry-run",
        "t:signal:signal_generate { @[args.comm] = count(); } \
         t:block:block_rq_issue { @b[args.rwbs, args.comm] = count(); }",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run_probe(&[
        "-e",
        "t:signal:signal_generate /args.sig == 10/ { @[args.comm] = count(); }",
        "-c",
        "sh -c 'kill -USR1 $$'",
    ]);
    assert!(stdout(&o).ends_with("\n@[sh]: 1\n"), "{}", stdout(&o));
}

#[test]
fn without_privileges_says_to_run_as_root() {
    let _k = kernel();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        env!("CARGO_BIN_EXE_probe"),
        "BEGIN { exit(); }",
    ]);
    let o = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(
        stderr(&o),
        "probe: cannot load BPF programs: Operation not permitted; run probe as root (it needs CAP_BPF and CAP_PERFMON)\n"
    );
}

/// Runs `probe` and bpftrace 0.17 with the same arguments, checks that both print the
/// same, and returns that output.
fn same_as_bpftrace(args: &[&str]) -> String {
    let ours = run_probe(args);
    assert!(ours.status.success(), "{}", stderr(&ours));
    let mut bt = std::process::Command::new("bpftrace");
    bt.args(args);
    let theirs = run_with_timeout(bt, Duration::from_secs(60));
    assert!(
        theirs.status.success(),
        "bpftrace failed (.ci/run installs it): {}",
        stderr(&theirs)
    );
    assert_eq!(stdout(&ours), stdout(&theirs));
    stdout(&ours)
}

/// A shell job that sends signal 0, 9, 0 to pid 12345 (which does not exist).
fn kills_command() -> String {
    let job = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/kills.sh");
    format!("/bin/sh {}", job.display())
}

#[test]
fn positional_parameters_match_bpftrace() {
    let _k = kernel();
    let script = "BEGIN { printf(\"%d %d %s %s %d|%s|\\n\", $1 + 1, $#, str($2), str($1), $5, str($4)); exit(); }";
    assert_eq!(
        same_as_bpftrace(&["-e", script, "41", "hello"]),
        "Attaching 1 probe...\n42 2 hello 41 0||\n\n\n"
    );
    // A script file takes its parameters after its name.
    let path = std::env::temp_dir().join(format!("probe-params-{}.bt", std::process::id()));
    std::fs::write(
        &path,
        "BEGIN { printf(\"%s=%d\\n\", str($1), $2); exit(); }",
    )
    .unwrap();
    let o = run_probe(&[path.to_str().unwrap(), "answer", "42"]);
    std::fs::remove_file(&path).ok();
    assert_eq!(
        stdout(&o),
        "Attaching 1 probe...\nanswer=42\n\n\n",
        "{}",
        stderr(&o)
    );
}

#[test]
fn tracepoint_args_match_bpftrace() {
    let _k = kernel();
    let command = kills_command();
    let script = "tracepoint:syscalls:sys_enter_kill /args->pid == 12345/ { printf(\"%d %d %s\\n\", args->pid, args->sig, comm); @[args->sig] = count(); }";
    assert_eq!(
        same_as_bpftrace(&["-e", script, "-c", &command]),
        "Attaching 1 probe...\n12345 0 sh\n12345 9 sh\n12345 0 sh\n\n\n@[9]: 1\n@[0]: 2\n"
    );
    // The newer `args.field` spelling reads the same fields.
    let o = run_probe(&[
        "-e",
        "tracepoint:syscalls:sys_enter_kill /args.pid == 12345/ { @[args.sig] = count(); }",
        "-c",
        &command,
    ]);
    assert_eq!(
        stdout(&o),
        "Attaching 1 probe...\n\n\n@[9]: 1\n@[0]: 2\n",
        "{}",
        stderr(&o)
    );
    // `char name[N]` fields are strings.
    let o = run_probe(&["-e", "tracepoint:sched:sched_switch { @[args.next_comm] = count(); } interval:ms:200 { exit(); }"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("@[") && !l.starts_with("@[]")),
        "{out}"
    );
}

#[test]
fn str_reads_tracepoint_string_arguments_like_bpftrace() {
    let _k = kernel();
    let script = "tracepoint:syscalls:sys_enter_openat /comm == \"head\" && str(args->filename) == \"/etc/hostname\"/ { printf(\"%s|%s|\\n\", str(args->filename), str(args->filename, 4)); @[str(args->filename, 9)] = count(); }";
    let command = "/usr/bin/head -c 0 /etc/hostname";
    assert_eq!(
        same_as_bpftrace(&["-e", script, "-c", command]),
        "Attaching 1 probe...\n/etc/hostname|/etc|\n\n\n@[/etc/host]: 1\n"
    );
}

#[test]
fn tracepoint_wildcards_expand_like_bpftrace() {
    let _k = kernel();
    let command = kills_command();
    let script =
        "tracepoint:syscalls:sys_enter_kil* /args->pid == 12345/ { @s[args->sig] = count(); }";
    assert_eq!(
        same_as_bpftrace(&["-e", script, "-c", &command]),
        "Attaching 1 probe...\n\n\n@s[9]: 1\n@s[0]: 2\n"
    );
    // Several matches: one program each, counted in "Attaching N probes...".
    let o = run_probe(&["-e", "t:syscalls:sys_enter_getp?id, t:syscalls:sys_enter_getppi? { @[comm] = count(); } BEGIN { exit(); }"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("Attaching 4 probes...\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_closed_output_pipe_ends_tracing() {
    let _k = kernel();
    let mut child = probe()
        .args(["interval:ms:10 { printf(\"line\\n\"); }"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "Attaching 1 probe...");
    assert_eq!(lines.next().unwrap().unwrap(), "line");
    drop(lines);
    for _ in 0..250 {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().ok();
    panic!("probe kept running after its reader went away");
}

#[test]
fn config_max_strlen_limits_str() {
    let _k = kernel();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/config_max_strlen.bt");
    let o = run_probe(&[
        script.to_str().unwrap(),
        "-c",
        "/usr/bin/head -c 0 /etc/hostname",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Attaching 1 probe...\n/etc/|/etc/hos|\n\n\n");
}

#[test]
fn pointer_casts_and_dereference_like_bpftrace() {
    let _k = kernel();
    let script = "tracepoint:syscalls:sys_enter_openat /comm == \"head\" && str(args->filename) == \"/etc/hostname\"/ { $p = (uint8 *)args->filename; printf(\"%c %d %d\\n\", *$p, *($p + 1), *(uint32 *)args->filename); @x = $p == 0; }";
    let out = same_as_bpftrace(&["-e", script, "-c", "/usr/bin/head -c 0 /etc/hostname"]);
    assert_eq!(out, "Attaching 1 probe...\n/ 101 1668572463\n\n\n@x: 0\n");
}

/// Struct layouts come from the kernel's BTF: the size and field offset bpftool reads.
#[test]
fn struct_layouts_match_bpftool() {
    let _k = kernel();
    let dump = std::process::Command::new("bpftool")
        .args([
            "btf",
            "dump",
            "file",
            "/sys/kernel/btf/vmlinux",
            "format",
            "raw",
        ])
        .output()
        .expect("bpftool");
    let dump = String::from_utf8_lossy(&dump.stdout);
    let mut lines = dump
        .lines()
        .skip_while(|l| !l.contains("STRUCT 'task_struct' "));
    let header = lines.next().expect("task_struct in the kernel's BTF");
    let size = header
        .split("size=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let pid = lines
        .find(|l| l.trim_start().starts_with("'pid' "))
        .expect("task_struct.pid");
    let bits: u32 = pid
        .split("bits_offset=")
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let o = run_probe(&[
        "-e",
        "BEGIN { printf(\"%d %d\\n\", sizeof(struct task_struct), \
         offsetof(struct task_struct, pid)); exit(); }",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("{size} {}\n", bits / 8)),
        "{}",
        stdout(&o)
    );
}

/// A `__data_loc` tracepoint field is the address of its data, read with `str()`.
#[test]
fn data_loc_strings_match_bpftrace() {
    let _k = kernel();
    let script = "tracepoint:sched:sched_process_exec /comm == \"true\"/ { \
                  printf(\"%s %d\\n\", str(args->filename), args->pid == pid); exit(); }";
    assert_eq!(
        same_as_bpftrace(&["-e", script, "-c", "/bin/true"]),
        "Attaching 1 probe...\n/bin/true 1\n\n\n"
    );
}

/// `rawtracepoint:` (`rt:`): the raw arguments; sys_enter's second is the syscall number
/// (62 is kill on x86-64).
#[test]
fn rawtracepoint_reads_raw_arguments() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "rt:sys_enter /arg1 == 62 && pid == cpid/ { @[comm] = count(); }",
        "-c",
        "/bin/kill -0 1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Attaching 1 probe...\n\n\n@[kill]: 1\n");
}

/// `profile:hz:N` fires on every CPU; `software:` counts kernel software events; both are
/// sampled, so the test checks shapes and bounds, not exact numbers.
#[test]
fn profile_and_software_events_fire() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "profile:hz:99 { @p = count(); } software:cs:1 { @cs = count(); } \
         s:page-faults:1 { @faults = count(); } i:ms:500 { exit(); }",
        "-c",
        "/bin/sh -c 'for i in 1 2 3 4 5; do /bin/true; done'",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Attaching 4 probes...\n"), "{out}");
    for map in ["@cs: ", "@faults: ", "@p: "] {
        let n: u64 = out
            .lines()
            .find_map(|l| l.strip_prefix(map))
            .unwrap_or_else(|| panic!("no {map} in {out}"))
            .parse()
            .unwrap();
        assert!(n > 0, "{map}{n}");
    }
}

/// Hardware events need a PMU, which this virtual machine lacks: refused before loading,
/// with the reason and what to use instead.
#[test]
fn hardware_events_without_a_pmu_are_refused_clearly() {
    let _k = kernel();
    let o = run_probe(&["-e", "hardware:cycles:1000000 { @ = count(); }"]);
    if std::path::Path::new("/sys/bus/event_source/devices/cpu").exists() {
        assert!(o.status.success(), "{}", stderr(&o));
        return;
    }
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "probe: hardware:cycles:1000000: cannot attach: this machine has no hardware \
         performance counters (no `cpu` PMU in /sys/bus/event_source/devices, as in most \
         virtual machines); use software:cpu-clock or profile:hz:99 instead\n"
    );
}

/// `-l` lists attach points and `-lv` a tracepoint's fields, as bpftrace prints them.
#[test]
fn listing_matches_bpftrace() {
    let _k = kernel();
    let sched = same_as_bpftrace(&["-l", "tracepoint:sched:*"]);
    assert!(sched.contains("tracepoint:sched:sched_switch\n"), "{sched}");
    same_as_bpftrace(&["-lv", "tracepoint:syscalls:sys_enter_read"]);
    same_as_bpftrace(&["-l", "tracepoint:syscalls:sys_enter_*"]);
    // Short kinds, patterns without a kind, and the perf events.
    let o = run_probe(&["-l", "t:sched:sched_switch"]);
    assert_eq!(stdout(&o), "tracepoint:sched:sched_switch\n");
    let o = run_probe(&["-l", "*sched_switch"]);
    assert_eq!(
        stdout(&o),
        "rawtracepoint:sched_switch\ntracepoint:sched:sched_switch\n"
    );
    let o = run_probe(&["-l", "s:*faults*"]);
    assert_eq!(
        stdout(&o),
        "software:alignment-faults:\nsoftware:emulation-faults:\nsoftware:major-faults:\n\
         software:minor-faults:\nsoftware:page-faults:\n"
    );
}

/// The test program's path (built with the tests).
fn test_target() -> &'static str {
    env!("CARGO_BIN_EXE_probe-test-target")
}

/// Runs `script` while the test program makes `calls` calls; returns probe's output.
fn trace_test_target(script: &str, calls: u32) -> String {
    let o = run_probe(&["-e", script, "-c", &format!("{} {calls}", test_target())]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// `uprobe`/`uretprobe` on a program's functions: arguments, return values, strings read
/// from user memory; with `-c`, only the command is traced. The same as bpftrace.
#[test]
fn uprobes_match_bpftrace() {
    let _k = kernel();
    let t = test_target();
    let script = format!(
        "uprobe:{t}:probe_target_add {{ @calls = count(); @b = arg1; }} \
         uretprobe:{t}:probe_target_add /retval == 12/ {{ @ret = retval; }} \
         u:{t}:probe_target_greet {{ printf(\"%s\\n\", str(arg0)); }}"
    );
    let command = format!("{t} 3");
    assert_eq!(
        same_as_bpftrace(&["-e", &script, "-c", &command]),
        "Attaching 3 probes...\nhello\n\n\n@b: 10\n@calls: 3\n@ret: 12\n"
    );
}

/// Every aggregation, fed by a probe that fires in another process: per-CPU values merged
/// and printed as bpftrace prints them.
#[test]
fn aggregations_of_probe_arguments_match_bpftrace() {
    let _k = kernel();
    let t = test_target();
    let script = format!(
        "uprobe:{t}:probe_target_add {{ @s = sum(arg0); @mn = min(arg0); @mx = max(arg0); \
         @a = avg(arg0); @st = stats(arg0); @h = hist(arg0); @l = lhist(arg0, 0, 10, 2); \
         @c[arg0 > 4] = count(); }}"
    );
    let command = format!("{t} 8");
    let out = same_as_bpftrace(&["-e", &script, "-c", &command]);
    assert!(out.contains("@st: count 8, average 3, total 28\n"), "{out}");
}

/// A library by name (`libc`) and `function+offset`.
#[test]
fn uprobes_find_libraries_by_name() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "u:libc:getpid { @[comm] = count(); }",
        "-c",
        "/bin/sh -c 'echo $$ > /dev/null'",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Attaching 1 probe...\n\n\n@[sh]: 1\n");
    let t = test_target();
    let out = trace_test_target(&format!("u:{t}:probe_target_add+0 {{ @ = count(); }}"), 2);
    assert!(out.ends_with("@: 2\n"), "{out}");
}

/// `-p PID`: uprobes attach to that process, and tracing ends when it exits.
#[test]
fn uprobes_follow_a_running_process() {
    let _k = kernel();
    let t = test_target();
    let mut target = std::process::Command::new(t)
        .args(["6", "150"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = target.id().to_string();
    let o = run_probe(&[
        "-p",
        &pid,
        "-e",
        &format!("u:{t}:probe_target_add {{ @calls = count(); @last = arg0; }}"),
    ]);
    target.wait().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "Attaching 1 probe...\n\n\n@calls: 6\n@last: 5\n"
    );
}

/// A function or library that does not exist: one line saying which.
#[test]
fn uprobe_targets_that_do_not_exist_are_named() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "u:libc:no_such_function { @ = count(); }",
        "-c",
        "/bin/true",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("probe: u:libc:no_such_function: no function `no_such_function` in /"),
        "{err}"
    );
    let o = run_probe(&["-e", "u:no_such_lib:f { @ = count(); }", "-c", "/bin/true"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o)
            .starts_with("probe: u:no_such_lib:f: no program `no_such_lib` in PATH and no library"),
        "{}",
        stderr(&o)
    );
}

/// Wildcards over a binary's functions, and listing them as bpftrace does.
#[test]
fn uprobe_wildcards_and_listing() {
    let _k = kernel();
    let t = test_target();
    let out = trace_test_target(&format!("u:{t}:probe_target_* {{ @calls = count(); }}"), 4);
    assert_eq!(out, "Attaching 2 probes...\n\n\n@calls: 5\n");
    same_as_bpftrace(&["-l", &format!("uprobe:{t}:probe_target*")]);
    same_as_bpftrace(&["-l", "uprobe:/bin/bash:*"]);
}

/// Killed with SIGKILL while tracing, probe leaves no program, link or map behind: the
/// kernel frees them with its file descriptors.
#[test]
fn nothing_is_left_behind_after_kill_9() {
    let _k = kernel();
    let mut child = probe()
        .args([
            "-e",
            "tracepoint:sched:sched_switch { @killed_map[cpu] = count(); }",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it is attached.
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "Attaching 1 probe...\n");
    assert!(loaded_map_names().iter().any(|m| m == "AT_killed_map"));
    child.kill().unwrap();
    child.wait().unwrap();
    // The kernel releases the objects as the descriptors close, after an RCU grace period.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let programs = loaded_program_names();
        let maps = loaded_map_names();
        let left = programs.iter().any(|p| p.starts_with("tracepoint_sche"))
            || maps.iter().any(|m| m == "AT_killed_map");
        if !left {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: {programs:?} {maps:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let links = std::process::Command::new("bpftool")
        .args(["link", "list"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&links.stdout).contains("tracepoint_sche"),
        "a link is left"
    );
}

/// `cpid` is the `-c` command's process id; without `-c` it is an error.
#[test]
fn cpid_is_the_commands_pid() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "tracepoint:syscalls:sys_enter_kill /pid == cpid/ { @[comm, args.sig] = count(); }",
        "-c",
        "/bin/sh -c 'kill -0 $$; kill -0 1'",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Attaching 1 probe...\n\n\n@[sh, 0]: 2\n");
    let o = run_probe(&["-e", "BEGIN { printf(\"%d\\n\", cpid); exit(); }"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "probe: the script reads cpid, the process id of the -c command: run it with -c 'COMMAND'\n"
    );
}

/// `self:signal:SIGUSR1` runs each time probe receives SIGUSR1.
#[test]
fn signal_probes_run_on_sigusr1() {
    let _k = kernel();
    let mut child = probe()
        .args([
            "-e",
            "self:signal:SIGUSR1 { @usr1 = count(); printf(\"signal\\n\"); }",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "Attaching 1 probe...\n");
    let pid = child.id() as i32;
    for _ in 0..2 {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "signal\n");
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(rest, "\n\n@usr1: 2\n");
}

/// `probe` names the attach point each program serves; `func` the traced function.
#[test]
fn probe_and_func_name_the_place() {
    let _k = kernel();
    let script = "tracepoint:syscalls:sys_enter_kill,tracepoint:syscalls:sys_enter_tgkill \
                  /comm == \"kill\"/ { @[probe] = count(); } BEGIN { printf(\"%s\\n\", probe); }";
    assert_eq!(
        same_as_bpftrace(&["-e", script, "-c", "/bin/kill -0 1"]),
        "Attaching 3 probes...\nBEGIN\n\n\n@[tracepoint:syscalls:sys_enter_kill]: 1\n"
    );
    let t = test_target();
    let out = trace_test_target(&format!("u:{t}:probe_target_* {{ @[func] = count(); }}"), 2);
    assert_eq!(
        out,
        "Attaching 2 probes...\n\n\n@[probe_target_greet]: 1\n@[probe_target_add]: 2\n"
    );
}

/// Iterators and fentry need BPF trampolines, which this kernel lacks (they run in the
/// qemu kernel, tests/qemu): refused before loading, with the reason and an alternative.
#[test]
fn trampoline_probes_are_refused_clearly_here() {
    let _k = kernel();
    for (script, says) in [
        (
            "iter:task { printf(\"%d\\n\", ctx->task->pid); }",
            "BPF iterators",
        ),
        ("fentry:vfs_read { @ = count(); }", "BPF trampolines"),
    ] {
        let o = run_probe(&["-e", script]);
        if probe_runtime_has_trampolines() {
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{script}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(says) && err.contains("BPF_PROG_TYPE_TRACING is not available"),
            "{err}"
        );
    }
}

/// True if this kernel loads tracing programs (then the test above does not apply).
fn probe_runtime_has_trampolines() -> bool {
    let out = std::process::Command::new("bpftool")
        .args(["feature", "probe", "kernel"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("program_type tracing is available")
}

/// `usdt:` probes: notes read from the binary's ELF, arguments where the notes say; the
/// same as bpftrace, listing included.
#[test]
fn usdt_probes_match_bpftrace() {
    let _k = kernel();
    let t = test_target();
    let script =
        format!("usdt:{t}:probe_target:tick {{ @calls = count(); @last = arg0; @b = arg1; }}");
    let command = format!("{t} 3");
    assert_eq!(
        same_as_bpftrace(&["-e", &script, "-c", &command]),
        "Attaching 1 probe...\n\n\n@b: 10\n@calls: 3\n@last: 2\n"
    );
    assert_eq!(
        same_as_bpftrace(&["-l", &format!("usdt:{t}:*")]),
        format!("usdt:{t}:probe_target:tick\n")
    );
    // The short form without the provider.
    let out = trace_test_target(&format!("U:{t}:tick {{ @n = count(); }}"), 2);
    assert!(out.ends_with("@n: 2\n"), "{out}");
}

/// `-p PID` keeps only that process's events in probes that fire in any process.
#[test]
fn pid_filters_tracepoints() {
    let _k = kernel();
    let mut target = std::process::Command::new(test_target())
        .args(["5", "150"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut other = std::process::Command::new("/bin/sh")
        .args(["-c", "for i in 1 2 3 4 5; do sleep 0.1; done"])
        .spawn()
        .unwrap();
    let pid = target.id().to_string();
    let o = run_probe(&[
        "-p",
        &pid,
        "-e",
        "tracepoint:syscalls:sys_enter_clock_nanosleep { @[comm] = count(); }",
    ]);
    target.wait().unwrap();
    other.wait().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let keys: Vec<&str> = out.lines().filter(|l| l.starts_with("@[")).collect();
    assert_eq!(keys.len(), 1, "{out}");
    assert!(keys[0].starts_with("@[probe-test-targ]: "), "{out}");
}

/// A uprobe at an address of the binary (found here in its symbol table), as bpftrace
/// takes it; an address outside the code is named.
#[test]
fn uprobes_at_addresses() {
    let _k = kernel();
    let t = test_target();
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(t).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let address = file
        .symbols()
        .find(|s| s.name() == Ok("probe_target_add"))
        .map(|s| format!("{:#x}", s.address()))
        .expect("the test program has a symbol table");
    let script = format!("u:{t}:{address} {{ @n = count(); }}");
    assert_eq!(
        same_as_bpftrace(&["-e", &script, "-c", &format!("{t} 3")]),
        "Attaching 1 probe...\n\n\n@n: 3\n"
    );
    let o = run_probe(&[
        "-e",
        &format!("u:{t}:0x1 {{ @n = count(); }}"),
        "-c",
        &format!("{t} 1"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("0x1 is not a code address of"),
        "{}",
        stderr(&o)
    );
}

/// `--test` runs each `test:` probe once and reports as bpftrace does (a passing test's
/// output is hidden); `--bench` times `bench:` probes; a normal run ignores both.
#[test]
fn test_and_bench_probes() {
    let _k = kernel();
    let script = "test:okay { printf(\"hidden\\n\"); }\n\
                  test:failure { printf(\"shown\\n\"); return 1; }\n\
                  bench:count { @b = count(); }\n\
                  BEGIN { printf(\"begin\\n\"); exit(); }";
    let o = run_probe(&["--test", "-e", script]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // Durations vary: keep what is before them.
    let report: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.split(" (").next().unwrap().to_string())
        .collect();
    let (g, r, z) = ("\x1b[32m", "\x1b[31m", "\x1b[0m");
    assert_eq!(
        report,
        [
            "begin".to_string(),
            format!("{g}[==========]{z} Running 2 tests."),
            format!("{g}[ RUN      ]{z} okay"),
            format!("{g}[       OK ]{z} okay"),
            format!("{g}[ RUN      ]{z} failure"),
            "shown".to_string(),
            format!("{r}[  FAILED  ]{z} failure"),
            format!("{g}[==========]{z} 2 tests ran."),
            format!("{g}[  PASSED  ]{z} 1 test."),
            format!("{r}[  FAILED  ]{z} 1 test, listed below:"),
            format!("{r}[  FAILED  ]{z} failure"),
        ]
    );
    let o = run_probe(&["--bench", "-e", script]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        format!("{:<41}{:<15}Iterations", "Benchmark", "Time(ns)"),
        "{out}"
    );
    assert_eq!(lines[2], "-".repeat(66));
    let row: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(row[0], "count", "{out}");
    assert!(
        row[1].parse::<u64>().is_ok() && row[2].parse::<u64>().unwrap() >= 1,
        "{out}"
    );
    let o = run_probe(&["-e", script]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("Attaching 1 probe...\nbegin\n"),
        "{}",
        stdout(&o)
    );
}

/// `uid`, `gid`, `numaid` as bpftrace prints them, and `ncpus` (which 0.17 lacks);
/// `uid`/`gid` of a command run as another user; `cgroup` is the cgroup directory's inode;
/// `elapsed`, `jiffies` and `rand` move.
#[test]
fn task_and_system_variables() {
    let _k = kernel();
    let script = "BEGIN { printf(\"%d %d %d\\n\", uid, gid, numaid); exit(); }";
    assert_eq!(
        same_as_bpftrace(&["-e", script]),
        "Attaching 1 probe...\n0 0 0\n\n\n"
    );
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let o = run_probe(&["-e", "BEGIN { printf(\"%d\\n\", ncpus); exit(); }"]);
    assert_eq!(stdout(&o), format!("Attaching 1 probe...\n{cpus}\n\n\n"));
    // `ppid`, written in the language (curtask->real_parent->tgid): probe's parent is us.
    let o = run_probe(&["-e", "BEGIN { printf(\"%d\\n\", ppid); exit(); }"]);
    assert_eq!(
        stdout(&o),
        format!("Attaching 1 probe...\n{}\n\n\n", std::process::id())
    );
    let out = trace_test_target_as_nobody();
    assert!(out.contains("65534 65533 nobody\n"), "{out}");

    let cgroup_dir = own_cgroup();
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(&cgroup_dir).expect("cgroup dir").ino();
    let o = run_probe(&[
        "-e",
        "BEGIN { @j = jiffies; @r = rand; } \
         interval:ms:200 { printf(\"%d %d %d %d\\n\", cgroup, elapsed / 100000000, \
         jiffies > @j, rand != @r); exit(); }",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o).lines().nth(1).unwrap_or_default().to_string();
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields[0], inode.to_string(), "{line}");
    assert!(matches!(fields[1], "2" | "3" | "4"), "elapsed: {line}");
    assert_eq!(&fields[2..], ["1", "1"], "{line}");
}

/// `username` is looked up once per uid: the lookup opens `/etc/passwd`, so a script
/// printing `username` for each open would otherwise trace its own lookups, one more for
/// every line it prints, until tracing stops.
#[test]
fn username_lookups_are_not_traced_in_a_loop() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "tracepoint:syscalls:sys_enter_openat { printf(\"%d %s %s\\n\", pid, username, \
         str(args.filename)); }",
        "-c",
        "sh -c 'sleep 0.3; head -c 0 /etc/hostname'",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // One lookup by probe (more only if other processes read the file meanwhile);
    // without the cache, hundreds.
    let lookups = out.lines().filter(|l| l.ends_with(" /etc/passwd")).count();
    assert!((1..=3).contains(&lookups), "{lookups} lookups:\n{out}");
    assert!(out.contains(" root /etc/hostname\n"), "{out}");
}

/// The test program run as user 65534, group 65533, its exit traced with `uid`/`gid`.
fn trace_test_target_as_nobody() -> String {
    let o = run_probe(&[
        "-e",
        "tracepoint:syscalls:sys_enter_exit_group /pid == cpid/ { printf(\"%d %d %s\\n\", uid, gid, username); }",
        "-c",
        &format!(
            "setpriv --reuid=65534 --regid=65533 --clear-groups {} 1",
            test_target()
        ),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// String functions on strings read from a traced process: `strcontains`, `strlen` and
/// `strncmp` of the path `cat` opens.
#[test]
fn string_functions_on_traced_paths() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "tracepoint:syscalls:sys_enter_openat /pid == cpid && strcontains(str(args.filename), \"passwd\")/ \
         { printf(\"%d %d\\n\", strlen(str(args.filename)), strncmp(str(args.filename), \"/etc/\", 5)); }",
        "-c",
        "cat /etc/passwd",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("\n11 0\n"), "{}", stdout(&o));
}

/// Kernel stacks in map keys (bpftrace and perf modes, with a frame limit) and `ksym`, the
/// same as bpftrace.
#[test]
fn kernel_stacks_match_bpftrace() {
    let _k = kernel();
    let t = test_target();
    let script = "tracepoint:syscalls:sys_enter_exit_group /pid == cpid/ { @[kstack] = count(); \
                  @k[kstack(3)] = count(); @p[kstack(perf, 2)] = count(); \
                  printf(\"%s|%s\\n\", ksym(1), usym(1)); }";
    let out = same_as_bpftrace(&["-e", script, "-c", &format!("{t} 1")]);
    assert!(out.contains("\n@k[\n    "), "{out}");
    assert!(out.contains("]: 1\n@p[\n\tffffffff"), "{out}");
    // Raw stacks (which bpftrace 0.17 lacks): addresses only.
    let out = trace_test_target(
        "tracepoint:syscalls:sys_enter_exit_group /pid == cpid/ { print(kstack(raw, 2)); }",
        1,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert!(
        lines[2..4]
            .iter()
            .all(|l| l.len() == 16 && l.starts_with("ffffffff")),
        "{out}"
    );
}

/// User stacks are symbolised while their process lives, from its maps and the symbol
/// table of the file; afterwards they show addresses, as in bpftrace.
#[test]
fn user_stacks_are_symbolised_while_the_process_lives() {
    let _k = kernel();
    let t = test_target();
    let o = run_probe(&[
        "-e",
        &format!(
            "uprobe:{t}:probe_target_add {{ print(ustack(1)); print(ustack(perf, 1)); \
             printf(\"%s\\n\", usym(0)); }}"
        ),
        "-c",
        &format!("{t} 2 300"),
    ]);
    let out = stdout(&o);
    assert!(
        out.starts_with("Attaching 1 probe...\n\n        probe_target_add+0\n\n\n\t"),
        "{out}"
    );
    assert!(
        out.contains(&format!(" probe_target_add+0 ({t})\n")),
        "{out}"
    );
    assert!(out.contains("\n0\n"), "{out}");
}

/// `join` of execve's `argv`, `system` and `cat` (with `--unsafe`), as bpftrace prints
/// them, in order with `printf`; `time` prints the local time.
#[test]
fn join_system_cat_and_time() {
    let _k = kernel();
    let script =
        "tracepoint:syscalls:sys_enter_execve { join(args->argv); join(args->argv, \",\"); }";
    assert_eq!(
        same_as_bpftrace(&["-e", script, "-c", "/bin/echo a bb ccc"]),
        "Attaching 1 probe...\n/bin/echo a bb ccc\n/bin/echo,a,bb,ccc\na bb ccc\n\n\n"
    );
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/kills.sh");
    let script = format!(
        "BEGIN {{ system(\"echo sys %d %s\", 42, \"x\"); cat(\"%s\", \"{}\"); printf(\"after\\n\"); exit(); }}",
        file.display()
    );
    let out = same_as_bpftrace(&["--unsafe", "-e", &script]);
    let contents = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        out,
        format!("Attaching 1 probe...\nsys 42 x\n{contents}after\n\n\n")
    );
    let o = run_probe(&["-e", "BEGIN { time(\"%Y-%m-%d|\"); time(); exit(); }"]);
    let date = std::process::Command::new("date")
        .arg("+%Y-%m-%d|")
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!(
            "Attaching 1 probe...\n{}",
            String::from_utf8_lossy(&date.stdout).trim_end()
        )),
        "{out}"
    );
    assert_eq!(out.lines().nth(1).map(|l| l.len()), Some(19), "{out}");
}

/// `strerror`, `username` and `strftime` in printf and in maps, as bpftrace prints them.
#[test]
fn printed_values_match_bpftrace() {
    let _k = kernel();
    let script = "BEGIN { printf(\"%s|%s|%s\\n\", strerror(2), username, strftime(\"%Y-%m-%d\", nsecs)); \
                  @u[username] = count(); @s = strerror(1); @t[strftime(\"%Y\", nsecs)] = count(); exit(); }";
    let out = same_as_bpftrace(&["-e", script]);
    assert!(out.contains("\nNo such file or directory|root|"), "{out}");
    assert!(out.contains("\n@s: Operation not permitted\n"), "{out}");
}

/// `signal` (with `--unsafe`) kills the traced program at its first call; `bswap`, `kaddr`
/// and `cgroupid` as bpftrace computes them (bpftrace 0.17 cannot read the id of the root
/// cgroup, so that one is compared with the directory's inode).
#[test]
fn signal_bswap_kaddr_cgroupid() {
    let _k = kernel();
    let t = test_target();
    let script = format!(
        "uprobe:{t}:probe_target_add {{ @calls = count(); signal(\"KILL\"); }} \
         uprobe:{t}:probe_target_greet {{ @greetings = count(); }}"
    );
    let command = format!("{t} 3");
    let out = same_as_bpftrace(&["--unsafe", "-e", &script, "-c", &command]);
    assert!(out.contains("@calls: 1\n"), "{out}");
    assert!(out.contains("@greetings: 0\n"), "{out}");
    let script = "BEGIN { printf(\"%d %d %d %d\\n\", bswap((uint32)1), bswap((uint16)0x1234), \
                  bswap((uint8)7), kaddr(\"vfs_read\") > 0); exit(); }";
    assert_eq!(
        same_as_bpftrace(&["-e", script]),
        "Attaching 1 probe...\n16777216 13330 7 1\n\n\n"
    );
    // bpftrace 0.17 prints 0 for a 64-bit bswap; the bytes of 1 reversed are 2^56.
    let o = run_probe(&[
        "-e",
        "BEGIN { printf(\"%d\\n\", bswap((uint64)1)); exit(); }",
    ]);
    assert_eq!(stdout(&o), "Attaching 1 probe...\n72057594037927936\n\n\n");
    use std::os::unix::fs::MetadataExt;
    // The cgroup this test runs in: `cgroup` of BEGIN, which probe runs itself.
    let dir = own_cgroup();
    let inode = std::fs::metadata(&dir).unwrap().ino();
    let o = run_probe(&[
        "-e",
        &format!("BEGIN {{ printf(\"%d %d\\n\", cgroupid(\"{dir}\"), cgroup == cgroupid(\"{dir}\")); exit(); }}"),
    ]);
    assert_eq!(stdout(&o), format!("Attaching 1 probe...\n{inode} 1\n\n\n"));
}

/// `ntop` of tracepoint byte arrays (a TCP connection on the loopback, its state
/// changes) and of integers, as bpftrace prints them.
#[test]
fn ntop_prints_addresses() {
    let _k = kernel();
    let connect =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/tcp_connect.py");
    let o = run_probe(&[
        "-e",
        "tracepoint:sock:inet_sock_set_state { printf(\"%s %s %d %d\\n\", ntop(args->saddr), \
         ntop(args->daddr), args->oldstate, args->newstate); @v6 = ntop(args->saddr_v6); \
         @[ntop(2, args.saddr)] = count(); }",
        "-c",
        &format!("/usr/bin/python3 {}", connect.display()),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // CLOSE (7) to SYN_SENT (2), then the listener's SYN_RECV (12)... to ESTABLISHED (1).
    assert!(out.contains("\n127.0.0.1 127.0.0.1 7 2\n"), "{out}");
    assert!(out.contains("\n@v6: ::ffff:127.0.0.1\n"), "{out}");
    assert!(out.contains("\n@[127.0.0.1]: "), "{out}");
    let script = "BEGIN { printf(\"%s %s\\n\", ntop(0x0100007f), ntop(2, 0x0101a8c0)); exit(); }";
    assert_eq!(
        same_as_bpftrace(&["-e", script]),
        "Attaching 1 probe...\n127.0.0.1 192.168.1.1\n\n\n"
    );
}

/// `errorf` and `warnf` print on standard error, in order, and tracing goes on.
#[test]
fn errorf_and_warnf_print_on_standard_error() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "BEGIN { printf(\"out\\n\"); errorf(\"bad %d\", 5); warnf(\"careful %s\\n\", \"x\"); exit(); }",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Attaching 1 probe...\nout\n\n\n");
    assert!(
        stderr(&o).ends_with("ERROR: bad 5\nWARNING: careful x\n"),
        "{}",
        stderr(&o)
    );
}

/// `reg()` reads the probed registers as bpftrace does; `usermode` is 1 in a uprobe;
/// `kptr`/`uptr` pass values through; `signal_thread` (with `--unsafe`) kills the thread.
#[test]
fn registers_usermode_and_signal_thread() {
    let _k = kernel();
    let t = test_target();
    let script = format!(
        "uprobe:{t}:probe_target_add {{ printf(\"%d %d %d\\n\", reg(\"ip\") > 0, reg(\"di\"), reg(\"si\")); }}"
    );
    assert_eq!(
        same_as_bpftrace(&["-e", &script, "-c", &format!("{t} 2")]),
        "Attaching 1 probe...\n1 0 10\n1 1 10\n\n\n"
    );
    let out = trace_test_target(
        &format!(
            "uprobe:{t}:probe_target_add {{ printf(\"%d %d\\n\", usermode, kptr(5) + uptr(1)); }}"
        ),
        1,
    );
    assert_eq!(out, "Attaching 1 probe...\n1 6\n\n\n");
    let o = run_probe(&[
        "--unsafe",
        "-e",
        &format!(
            "uprobe:{t}:probe_target_add {{ @calls = count(); signal_thread(\"KILL\"); }} \
             uprobe:{t}:probe_target_greet {{ @greetings = count(); }}"
        ),
        "-c",
        &format!("{t} 3"),
    ]);
    assert_eq!(
        stdout(&o),
        "Attaching 2 probes...\n\n\n@calls: 1\n@greetings: 0\n"
    );
}

/// `buf` printed with `%r` and as a map value, as bpftrace prints it; `buf` of user
/// memory and `macaddr` of six bytes there.
#[test]
fn buffers_and_mac_addresses() {
    let _k = kernel();
    let script = "BEGIN { printf(\"%r|%r\\n\", buf(\"abc\\x01\\x7f\", 5), buf(\"hello\", 4)); \
                  @b = buf(\"xy\", 2); exit(); }";
    assert_eq!(
        same_as_bpftrace(&["-e", script]),
        "Attaching 1 probe...\nabc\\x01\\x7f|hell\n\n\n@b: xy\n"
    );
    let t = test_target();
    let out = trace_test_target(
        &format!(
            "uprobe:{t}:probe_target_greet {{ printf(\"%r %s\\n\", buf(arg0, 6), macaddr(arg0)); }}"
        ),
        0,
    );
    assert_eq!(
        out,
        "Attaching 1 probe...\nhello\\x00 68:65:6C:6C:6F:00\n\n\n"
    );
}

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified`
/// on hybrid systems like this one).
fn cgroup2_mount() -> String {
    std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.get(2) == Some(&"cgroup2")).then(|| f[1].to_string())
        })
        .expect("a cgroup2 mount")
}

/// The cgroup v2 directory this process is in.
fn own_cgroup() -> String {
    let path = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .expect("a cgroup v2 path");
    format!("{}{}", cgroup2_mount(), path.trim_end_matches('/'))
}

/// `cgroup_path` lists the cgroup in every mounted hierarchy, as bpftrace does.
#[test]
fn cgroup_path_matches_bpftrace() {
    let _k = kernel();
    let script = "BEGIN { printf(\"%s\\n\", cgroup_path(cgroup)); exit(); }";
    let out = same_as_bpftrace(&["-e", script]);
    assert!(out.contains("\nunified:/"), "{out}");
}

/// `assert`, written in the language (`stdlib/src/scripts/assert.bt`): a true condition
/// goes on, a false one prints its message on standard error and stops tracing; a
/// script's own `assert` macro wins.
#[test]
fn assert_is_a_macro_of_the_standard_library() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "BEGIN { assert(1 == 1, \"fine\"); printf(\"one\\n\"); assert(pid == 0, \"pid is not 0\"); printf(\"never\\n\"); }",
    ]);
    assert_eq!(stdout(&o), "Attaching 1 probe...\none\n\n\n");
    assert!(
        stderr(&o).ends_with("ERROR: assertion failed: pid is not 0\n"),
        "{}",
        stderr(&o)
    );
    let o = run_probe(&[
        "-e",
        "macro assert($a, $b) { printf(\"mine %d\\n\", $b); } BEGIN { assert(0, 2); exit(); }",
    ]);
    assert_eq!(stdout(&o), "Attaching 1 probe...\nmine 2\n\n\n");
}

/// Probes stop before END runs (as in bpftrace): what END clears stays cleared while the
/// maps print, however busy the traced events are.
#[test]
fn probes_stop_before_end() {
    let _k = kernel();
    for _ in 0..3 {
        let o = run_probe(&[
            "-e",
            "tracepoint:sched:sched_switch { @[cpu] = count(); } \
             interval:ms:100 { exit(); } END { clear(@); }",
        ]);
        assert_eq!(stdout(&o), "Attaching 3 probes...\n\n\n\n");
    }
}

/// `syscall_name` of raw_syscalls' ids: the calls `/bin/true` makes, by name.
#[test]
fn syscall_names_of_a_command() {
    let _k = kernel();
    let o = run_probe(&[
        "-e",
        "tracepoint:raw_syscalls:sys_enter /pid == cpid/ { @[syscall_name(args.id)] = count(); }",
        "-c",
        "/bin/true",
    ]);
    let out = stdout(&o);
    for call in ["execve", "mmap", "exit_group"] {
        assert!(out.contains(&format!("\n@[{call}]: ")), "{out}");
    }
}

/// Events that do not fit the ring buffer are counted and reported at the end, as text or
/// as bpftrace's `lost_events` JSON record.
#[test]
fn lost_events_are_reported() {
    let _k = kernel();
    // 60 records of about 80 bytes for a ring buffer of one page (4 KiB), in one run.
    let printfs: String = (0..60)
        .map(|i| format!("printf(\"%s %d\\n\", \"{}\", {i}); ", "x".repeat(60)))
        .collect();
    let script = format!("config = {{ perf_rb_pages = 1 }} BEGIN {{ {printfs} exit(); }}");
    let script = script.as_str();
    let o = run_probe(&["-e", script]);
    let lost = stdout(&o).lines().last().and_then(|l| {
        l.strip_prefix("Lost ")?
            .strip_suffix(" events")?
            .parse::<u32>()
            .ok()
    });
    assert!(lost.is_some_and(|n| n > 0), "{}", stdout(&o));
    let o = run_probe(&["-f", "json", "-e", script]);
    let last = stdout(&o).lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("{\"type\": \"lost_events\", \"data\": {\"events\": "),
        "{last}"
    );
}
