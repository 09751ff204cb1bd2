//! `get` touches only what the user asked for: what `-o` may replace, `-o -`,
//! the names a sender chooses, what `get` reports, and what an interrupted
//! `get` leaves behind. Real `lbrymount` processes, real sockets on loopback.

mod common;

use common::cli::{
    assert_success, copy_blobs, descriptor_named, pseudo_random, Node, ServeNode, CHUNK,
};
use common::fakepeer::{FakePeer, Mode};
use lbrymount::hash::BlobHash;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// A node holding one published stream of `blobs` data blobs: (node, sd hash, content).
fn published(blobs: usize, seed: u64) -> (Node, String, Vec<u8>) {
    let node = Node::new();
    let data = pseudo_random(blobs * CHUNK - 1000, seed);
    let src = node.path("movie.bin");
    fs::write(&src, &data).unwrap();
    let sd = node.publish(&src);
    (node, sd, data)
}

/// `mknod(path, mode, dev)`, for FIFOs and device nodes inside the test's temp dir.
fn mknod(path: &Path, mode: libc::mode_t, dev: libc::dev_t) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mknod(2) with a valid NUL-terminated path.
    let rc = unsafe { libc::mknod(c.as_ptr(), mode, dev) };
    assert_eq!(
        rc,
        0,
        "mknod {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

#[test]
fn o_never_replaces_a_symlink_a_device_node_or_a_fifo() {
    let (node, sd, _) = published(1, 1);
    let dir = node.path("targets");
    fs::create_dir(&dir).unwrap();
    let precious = dir.join("precious.txt");
    fs::write(&precious, b"keep me").unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    let fifo = dir.join("fifo");
    mknod(&fifo, libc::S_IFIFO | 0o600, 0);
    // A null device of our own (1, 3), never the system's.
    let null = dir.join("null");
    mknod(&null, libc::S_IFCHR | 0o600, libc::makedev(1, 3));

    for (target, kind) in [(&link, "symbolic link"), (&fifo, "FIFO"), (&null, "device")] {
        let err = node.get_offline_fails(&sd, target);
        assert!(
            err.contains("refusing")
                && err.contains(kind)
                && err.contains(target.to_str().unwrap()),
            "{err}"
        );
    }
    assert_eq!(fs::read_link(&link).unwrap(), precious);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(fs::symlink_metadata(&null)
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(fs::read(&precious).unwrap(), b"keep me");
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 4, "no part file or other file left: {names:?}");
}

#[test]
fn o_directory_or_symlink_to_one_adds_a_file_inside_and_replaces_nothing() {
    let (node, sd, data) = published(1, 2);
    let dir = node.path("into");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("movie.bin"), b"mine").unwrap();
    let link = node.path("link-to-dir");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    node.get_offline(&sd, &dir);
    node.get_offline(&sd, &link);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(dir.join("movie.bin")).unwrap(), b"mine");
    assert_eq!(fs::read(dir.join("movie (1).bin")).unwrap(), data);
    assert_eq!(fs::read(dir.join("movie (2).bin")).unwrap(), data);
}

/// Runs `get ARGS` in `cwd`; returns (stdout, stderr), requiring success.
fn get_in(node: &Node, cwd: &Path, args: &[&str]) -> (Vec<u8>, String) {
    let out = node.cmd(args).current_dir(cwd).output().unwrap();
    assert_success(&out, args);
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn o_dash_streams_the_file_to_stdout_from_the_store_and_from_a_peer() {
    let (node, sd, data) = published(3, 3);
    let cwd = node.path("cwd");
    fs::create_dir(&cwd).unwrap();
    let (stdout, _) = get_in(&node, &cwd, &["get", &sd, "--offline", "-o", "-"]);
    assert!(
        stdout == data,
        "stdout differs from the file ({} bytes)",
        stdout.len()
    );

    let seeder = Node::new();
    copy_blobs(&node, &seeder);
    let server = ServeNode::start(&seeder);
    let leecher = Node::new();
    let args = ["get", &sd, "-o", "-", "--peer", &server.peer_arg()];
    let (stdout, _) = get_in(&leecher, &cwd, &args);
    assert!(
        stdout == data,
        "stdout differs from the file ({} bytes)",
        stdout.len()
    );
    let left: Vec<_> = fs::read_dir(&cwd).unwrap().collect();
    assert!(
        left.is_empty(),
        "nothing is written to the current directory"
    );
}

#[test]
fn o_dash_into_a_reader_that_stops_early_is_not_an_error() {
    // `get SD -o - | head -c 1000`: the reader closing the pipe is its choice.
    use std::io::Read;
    use std::process::Stdio;
    let (node, sd, data) = published(3, 3);
    let mut child = node
        .cmd(&["get", &sd, "--offline", "-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = vec![0u8; 1000];
    stdout.read_exact(&mut head).unwrap();
    assert!(head == data[..1000], "the first bytes are the file's");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("error"), "{stderr}");
}

/// Stores a descriptor named `name` in `node`'s store; returns its sd hash.
fn store_descriptor(node: &Node, name: &[u8]) -> String {
    fs::create_dir_all(node.blob_dir()).unwrap();
    let bytes = descriptor_named(name);
    let sd = BlobHash::digest(&bytes).to_string();
    fs::write(node.blob_dir().join(&sd), &bytes).unwrap();
    sd
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn sender_chosen_names_stay_visible_and_inside_the_current_directory() {
    let node = Node::new();
    let hostile: [&[u8]; 7] = [
        b".bashrc",
        b".gitconfig",
        b"../x",
        b"a/b",
        b"..",
        b"...hidden.txt",
        b"/etc/passwd",
    ];
    for name in hostile {
        let sd = store_descriptor(&node, name);
        let parent = node.path(&format!("p-{}", &sd[..8]));
        let cwd = parent.join("cwd");
        fs::create_dir_all(&cwd).unwrap();
        let (_, stderr) = get_in(&node, &cwd, &["get", &sd, "--offline"]);
        let written = entries(&cwd);
        let shown = String::from_utf8_lossy(name);
        assert_eq!(written.len(), 1, "{shown}: {written:?}");
        assert!(
            !written[0].starts_with('.'),
            "{shown} hides itself as {written:?}"
        );
        assert_eq!(
            entries(&parent),
            ["cwd"],
            "{shown} escaped the current directory"
        );
        assert!(stderr.contains(&written[0]), "{shown}: {stderr}");
    }
}

#[test]
fn names_of_240_to_255_bytes_are_written_under_that_name() {
    let node = Node::new();
    for len in [240, 250, 254, 255] {
        let name = format!("{}.mkv", "n".repeat(len - 4));
        let sd = store_descriptor(&node, name.as_bytes());
        let cwd = node.path(&format!("cwd-{len}"));
        fs::create_dir(&cwd).unwrap();
        get_in(&node, &cwd, &["get", &sd, "--offline"]);
        assert_eq!(entries(&cwd), std::slice::from_ref(&name), "{len} bytes");
        // Again: the next free name is shortened to fit, never an error.
        get_in(&node, &cwd, &["get", &sd, "--offline"]);
        let again = entries(&cwd);
        assert_eq!(again.len(), 2, "{again:?}");
        assert!(again.iter().all(|n| n.len() <= 255 && n.ends_with(".mkv")));
    }
}

#[test]
fn get_says_where_it_wrote_unless_quiet() {
    let (node, sd, data) = published(1, 4);
    let out = node.path("out.bin");
    let out_s = out.to_str().unwrap();
    let (_, stderr) = get_in(
        &node,
        &node.path(""),
        &["get", &sd, "--offline", "-o", out_s],
    );
    assert!(
        stderr.contains(out_s) && stderr.contains(&data.len().to_string()),
        "{stderr}"
    );
    let (_, stderr) = get_in(
        &node,
        &node.path(""),
        &["-q", "get", &sd, "--offline", "-o", out_s],
    );
    assert_eq!(stderr, "", "-q prints nothing");
    assert_eq!(fs::read(&out).unwrap(), data);
}

/// The data blob hashes of a stream, in order.
fn data_blobs(node: &Node, sd: &str) -> Vec<String> {
    let text = fs::read_to_string(node.blob_dir().join(sd)).unwrap();
    text.match_indices("\"blob_hash\": \"")
        .map(|(i, _)| text[i + 14..i + 110].to_string())
        .collect()
}

/// Waits (60 s at most, a hang guard) until `cond` holds.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_interrupted_get_removes_its_part_file_and_keeps_the_blobs_it_fetched() {
    let (publisher, sd, data) = published(5, 5);
    let blobs = data_blobs(&publisher, &sd);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // A peer that sends the descriptor and two data blobs, then stalls.
        let peer = rt.block_on(FakePeer::start(Mode::StallAfter(3), publisher.blobs()));
        let leecher = Node::new();
        let out_dir = leecher.path("out");
        fs::create_dir(&out_dir).unwrap();
        let out = out_dir.join("movie.bin");
        let peer_arg = peer.addr().to_string();
        let args = ["get", &sd, "-o", out.to_str().unwrap(), "--peer", &peer_arg];
        let mut child = leecher
            .cmd(&args)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let fetched = || -> Vec<String> {
            let have = |h: &&String| leecher.blob_dir().join(h).exists();
            blobs.iter().filter(have).cloned().collect()
        };
        wait_for("two blobs and the part file", || {
            fetched().len() == 2 && !entries(&out_dir).is_empty()
        });
        // SAFETY: kill(2) on the PID of a child we started and have not reaped.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = child.wait().unwrap();
        assert!(!status.success(), "signal {sig}: {status:?}");
        assert_eq!(
            entries(&out_dir),
            Vec::<String>::new(),
            "signal {sig}: part file left"
        );
        assert_eq!(fetched().len(), 2, "the fetched blobs stay");
        assert!(leecher.blob_dir().join(&sd).exists());

        // Rerun against a complete seeder: only the missing blobs travel.
        let seeder = Node::new();
        copy_blobs(&publisher, &seeder);
        let server = ServeNode::start(&seeder);
        let args = [
            "get",
            &sd,
            "-o",
            out.to_str().unwrap(),
            "--peer",
            &server.peer_arg(),
        ];
        leecher.ok(&args);
        assert!(fs::read(&out).unwrap() == data);
        let (_, log) = server.stop(libc::SIGTERM);
        assert_eq!(
            ServeNode::served_blobs(&log),
            3,
            "only the missing blobs were fetched"
        );
    }
}

#[test]
fn get_on_a_data_dir_held_by_a_running_node_goes_through_the_node() {
    let (node, sd, data) = published(3, 6);
    let server = ServeNode::start(&node);
    let cwd = node.path("cwd");
    fs::create_dir(&cwd).unwrap();
    // From the node's store: to a file, to stdout, and under the stream's name.
    let out = node.path("via-node.bin");
    let (_, stderr) = get_in(
        &node,
        &cwd,
        &["get", &sd, "--offline", "-o", out.to_str().unwrap()],
    );
    assert!(fs::read(&out).unwrap() == data, "{stderr}");
    assert!(stderr.contains(out.to_str().unwrap()), "{stderr}");
    let (stdout, _) = get_in(&node, &cwd, &["get", &sd, "-o", "-"]);
    assert!(stdout == data, "stdout differs ({} bytes)", stdout.len());
    get_in(&node, &cwd, &["get", &sd]);
    assert!(fs::read(cwd.join("movie.bin")).unwrap() == data);

    // A stream the node lacks: it fetches it from the peer named here, into its store.
    let (other, sd2, data2) = published(2, 7);
    let seeder = ServeNode::start(&other);
    let out2 = node.path("fetched.bin");
    let args = [
        "get",
        &sd2,
        "-o",
        out2.to_str().unwrap(),
        "--peer",
        &seeder.peer_arg(),
    ];
    get_in(&node, &cwd, &args);
    assert!(fs::read(&out2).unwrap() == data2);
    for h in data_blobs(&other, &sd2) {
        assert!(
            node.blob_dir().join(&h).exists(),
            "blob {h} is in the node's store"
        );
    }
    // The same safety rules apply: a symlink is not replaced.
    let link = node.path("link");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    let err = node.fails(&["get", &sd, "-o", link.to_str().unwrap()], 1);
    assert!(err.contains("refusing"), "{err}");
    assert_eq!(fs::read_link(&link).unwrap(), out);

    // A second node on the same data dir says which node holds it and what to do.
    let err = node.fails(&["serve", "--listen", "127.0.0.1:0", "--no-dht"], 1);
    let pid = server.pid().to_string();
    assert!(err.contains(&pid) && err.contains("--data-dir"), "{err}");

    // A stream nobody has: the node says why it found no peer.
    let unknown = "ab".repeat(48);
    let err = node.fails(&["get", &unknown, "--timeout", "5"], 1);
    assert!(err.contains("no --peer given and no DHT"), "{err}");
}
