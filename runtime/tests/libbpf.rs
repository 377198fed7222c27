//! The libbpf layer against the real kernel (root): objects written by the compiler's ELF
//! writer load, attach, fail the way they should, and leave nothing behind.

use probe_compiler::bpf::insn::{alu, jmp, size, Insn};
use probe_compiler::object::{write_elf, MapDef, ObjectDef, ProgramDef};
use probe_compiler::program::{CompiledProgram, MAP_ARRAY, MAP_RINGBUF};
use probe_runtime::libbpf::{test_run, Object};
use probe_runtime::{kernel, maps, ringbuf::RingBuffer, session};
use std::cell::RefCell;
use std::rc::Rc;

fn require_root() {
    assert!(
        unsafe { libc::geteuid() } == 0,
        "this test loads BPF programs and must run as root (CI does)"
    );
}

fn object(section: &str, name: &str, insns: Vec<Insn>) -> ObjectDef {
    ObjectDef {
        license: "GPL".into(),
        maps: vec![
            MapDef {
                name: "counter".into(),
                map_type: MAP_ARRAY,
                key_size: 4,
                value_size: 8,
                max_entries: 1,
            },
            MapDef {
                name: "events".into(),
                map_type: MAP_RINGBUF,
                key_size: 0,
                value_size: 0,
                max_entries: 4096,
            },
        ],
        programs: vec![ProgramDef {
            name: name.into(),
            section: section.into(),
            insns,
            functions: vec![0],
        }],
    }
}

/// `counter[0] += 1` then return 0.
fn count_program() -> Vec<Insn> {
    let mut v = vec![Insn::store_imm(size::W, 10, -4, 0)];
    v.extend(Insn::ld_map_fd(1, 0));
    v.extend([
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(alu::ADD, 2, -4),
        Insn::call(1),
        Insn::jmp_imm(jmp::JEQ, 0, 0, 2),
        Insn::mov64_imm(1, 1),
        Insn::atomic_add(size::DW, 0, 0, 1),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ]);
    v
}

fn counter(obj: &Object) -> u64 {
    let fd = obj.map_fd("counter").expect("counter map");
    let v = maps::lookup(fd, &0u32.to_le_bytes(), 8)
        .unwrap()
        .expect("array entry");
    u64::from_le_bytes(v.try_into().unwrap())
}

#[test]
fn tracepoint_program_counts_events() {
    require_root();
    probe_runtime::tracefs::ensure_mounted().unwrap();
    let elf = write_elf(&object(
        "tracepoint/syscalls/sys_enter_getppid",
        "count_getppid",
        count_program(),
    ))
    .unwrap();
    let mut obj = Object::open(&elf, "t").unwrap();
    obj.load().unwrap();
    let link = obj
        .attach_tracepoint("count_getppid", "syscalls", "sys_enter_getppid")
        .unwrap();
    for _ in 0..100 {
        unsafe { libc::getppid() };
    }
    drop(link);
    assert!(counter(&obj) >= 100);
}

#[test]
fn raw_tracepoint_program_runs_once_and_writes_the_ring_buffer() {
    require_root();
    let mut insns = vec![
        Insn::mov64_imm(1, 7),
        Insn::store_reg(size::DW, 10, -16, 1),
        Insn::mov64_imm(1, 42),
        Insn::store_reg(size::DW, 10, -8, 1),
    ];
    insns.extend(Insn::ld_map_fd(1, 1));
    insns.extend([
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(alu::ADD, 2, -16),
        Insn::mov64_imm(3, 16),
        Insn::mov64_imm(4, 0),
        Insn::call(130),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ]);
    let elf = write_elf(&object("raw_tp", "once", insns)).unwrap();
    let mut obj = Object::open(&elf, "t").unwrap();
    obj.load().unwrap();
    let seen: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let sink = seen.clone();
    let mut rb = RingBuffer::new(obj.map_fd("events").unwrap(), move |d| {
        sink.borrow_mut().push(d.to_vec())
    })
    .unwrap();
    test_run(obj.program_fd("once").unwrap(), &[0u8; 8]).unwrap();
    rb.consume().unwrap();
    let mut expected = 7u64.to_le_bytes().to_vec();
    expected.extend(42u64.to_le_bytes());
    assert_eq!(*seen.borrow(), vec![expected]);
}

#[test]
fn perf_event_program_fires_on_the_cpu_clock() {
    require_root();
    let elf = write_elf(&object("perf_event", "tick", count_program())).unwrap();
    let mut obj = Object::open(&elf, "t").unwrap();
    obj.load().unwrap();
    let fd = probe_runtime::perf::open_cpu_clock(0, 10_000_000).unwrap();
    let link = obj.attach_perf_event("tick", fd).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    drop(link);
    let n = counter(&obj);
    assert!((5..=30).contains(&n), "{n} ticks of 10 ms in 200 ms");
}

#[test]
fn kprobe_program_loads_but_cannot_attach_here() {
    require_root();
    let elf = write_elf(&object("kprobe/vfs_read", "kp", count_program())).unwrap();
    let mut obj = Object::open(&elf, "t").unwrap();
    obj.load()
        .expect("the kernel accepts kprobe programs without kprobes");
    assert!(
        !kernel::kprobes_supported(),
        "this kernel has no kprobes (CONFIG_KPROBES unset)"
    );
    let err = obj
        .attach_kprobe("kp", "vfs_read", 0, false)
        .err()
        .expect("attach fails");
    assert_ne!(err.errno(), 0, "{err}");
}

#[test]
fn verifier_rejection_names_the_program_and_the_reason() {
    require_root();
    let insns = vec![Insn::mov64_reg(0, 2), Insn::exit()];
    let elf = write_elf(&object(
        "tracepoint/syscalls/sys_enter_getppid",
        "bad_prog",
        insns,
    ))
    .unwrap();
    let mut obj = Object::open(&elf, "t").unwrap();
    let e = obj.load().err().expect("R2 is never set");
    assert_eq!(e.program.as_deref(), Some("bad_prog"));
    assert_eq!(e.errno, libc::EACCES);
    assert!(e.log.contains("R2 !read_ok"), "{}", e.log);
    let compiled = CompiledProgram {
        probes: vec![],
        maps: vec![],
        events: vec![],
        ringbuf: 0,
        lost_events: 0,
        settings: Default::default(),
        control: 0,
        session_values: vec![],
    };
    assert_eq!(
        session::load_error(&e, &compiled).to_string(),
        "probe: the kernel rejected the BPF program: R2 !read_ok (probe -v shows the verifier log)"
    );
}

#[test]
fn closing_the_object_unloads_its_programs() {
    require_root();
    let elf = write_elf(&object("raw_tp", "probe_leak_chk", count_program())).unwrap();
    let mut obj = Object::open(&elf, "t").unwrap();
    obj.load().unwrap();
    let listed = || {
        String::from_utf8_lossy(
            &std::process::Command::new("bpftool")
                .args(["prog", "list"])
                .output()
                .unwrap()
                .stdout,
        )
        .contains("probe_leak_chk")
    };
    assert!(listed(), "bpftool lists the loaded program");
    drop(obj);
    // Programs are freed once their last reference is gone; give the kernel a moment.
    for _ in 0..50 {
        if !listed() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the program is still loaded after the object was closed");
}
