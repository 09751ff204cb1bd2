//! `lbrymount search` through the DHT on loopback: real nodes in a chain,
//! so the searcher never knows the sharer directly, and hostile peers that
//! answer searches with floods, garbage or silence.

mod common;

use common::cli::{pseudo_random, Node, ServeNode};
use lbrymount::search::text::{key, KeyKind};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// Starts `serve` with a DHT node joined through `bootstrap` (none: the first node).
fn dht_node(node: &Node, bootstrap: Option<&str>) -> (ServeNode, String) {
    let mut args = vec!["--dht-listen", "127.0.0.1:0"];
    if let Some(b) = bootstrap {
        args.extend(["--bootstrap", b]);
    }
    let s = ServeNode::start_with(node, &args);
    let udp = s.wait_log("dht node ready at ");
    (s, udp)
}

/// Runs `search` on `node` until a line names `sd` (the announcements take
/// a moment), 30 s at most; returns that line.
fn search_until_found(node: &Node, args: &[&str], sd: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut all = vec!["search"];
        all.extend_from_slice(args);
        let out = node.ok(&all);
        if let Some(line) = out.lines().find(|l| l.starts_with(sd)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{args:?} never found {sd}:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn search_finds_a_stream_shared_three_hops_away_even_with_a_typo() {
    let sharer = Node::new();
    let (a, a_udp) = dht_node(&sharer, None);
    let (b_node, c_node, d_node) = (Node::new(), Node::new(), Node::new());
    let (_b, b_udp) = dht_node(&b_node, Some(&a_udp));
    let (_c, c_udp) = dht_node(&c_node, Some(&b_udp));
    let (_d, d_udp) = dht_node(&d_node, Some(&c_udp));
    let file = sharer.path("Crème Brûlée Holiday.mp4");
    std::fs::write(&file, pseudo_random(5000, 3)).unwrap();
    let sd = sharer.publish(&file);

    let searcher = Node::new();
    let line = search_until_found(&searcher, &["--bootstrap", &d_udp, "holiday"], &sd);
    assert_eq!(
        line,
        format!("{sd}  5000  Crème Brûlée Holiday.mp4  peers 1"),
        "found through the DHT, from the one peer sharing it"
    );
    // Accents, case and one typo per word are forgiven.
    for typo in ["creme brulee", "HOLYDAY", "brulée holidya"] {
        let line = search_until_found(&searcher, &["--bootstrap", &d_udp, typo], &sd);
        assert!(line.ends_with("peers 1"), "{typo}: {line}");
    }
    let none = searcher.ok(&["search", "--bootstrap", &d_udp, "unrelated words"]);
    assert_eq!(none, "", "nothing matches");

    // A node running on the searcher's data dir searches for it, and its own
    // streams are local results.
    let own = searcher.path("holiday notes.txt");
    std::fs::write(&own, b"notes").unwrap();
    let own_sd = searcher.publish(&own);
    let (_e, _) = dht_node(&searcher, Some(&d_udp));
    let line = search_until_found(&searcher, &["holidya"], &sd);
    assert!(line.ends_with("peers 1"), "{line}");
    let out = searcher.ok(&["search", "holiday"]);
    let mine = out.lines().find(|l| l.starts_with(&own_sd));
    assert_eq!(
        mine,
        Some(format!("{own_sd}  5  holiday notes.txt  local").as_str()),
        "{out}"
    );
    drop(a);
}

/// How a fake search peer answers.
#[derive(Clone, Copy)]
enum Answer {
    /// A million matching streams, streamed without end.
    Flood,
    /// 350 matching streams in one well-formed answer (the cap is 100).
    Many,
    /// Bytes that are not JSON.
    Garbage,
    /// Reads the request and says nothing.
    Silent,
}

/// A peer that reads one search request (the real wire format) per
/// connection and answers as `how` says; runs until the test ends.
fn fake_search_peer(how: Answer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || answer(&mut conn, how));
        }
    });
    addr
}

fn answer(conn: &mut std::net::TcpStream, how: Answer) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while lbrymount::wire::search::decode_request(&buf).is_err() {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let item = |i: u32| {
        let sd = format!("{:096x}", u128::from(i) + 1);
        format!(r#"{{"sd_hash": "{sd}", "name": "holiday fake {i}.bin", "size": 1}}"#)
    };
    let _ = match how {
        Answer::Flood => (|| {
            conn.write_all(b"{\"lbrymount_found\": [")?;
            for i in 0..1_000_000 {
                conn.write_all(format!("{}, ", item(i)).as_bytes())?;
            }
            conn.write_all(b"]}")
        })(),
        Answer::Many => {
            let items: Vec<String> = (0..350).map(item).collect();
            let body = format!("{{\"lbrymount_found\": [{}]}}", items.join(", "));
            conn.write_all(body.as_bytes())
        }
        Answer::Garbage => conn.write_all(b"\x00\xffnot json at all}"),
        Answer::Silent => {
            std::thread::sleep(Duration::from_secs(60));
            Ok(())
        }
    };
}

#[test]
fn hostile_search_answers_are_bounded_and_the_real_stream_still_found() {
    let sharer = Node::new();
    let file = sharer.path("holiday.jpg");
    std::fs::write(&file, b"sun").unwrap();
    let sd = sharer.publish(&file);
    let (_s, udp) = dht_node(&sharer, None);
    let word = hex::encode(key(KeyKind::Exact, "holiday").as_bytes());
    let user = Node::new();
    for how in [Answer::Flood, Answer::Many, Answer::Garbage, Answer::Silent] {
        let port = fake_search_peer(how).port().to_string();
        let args = [
            "dht",
            "--bootstrap",
            &udp,
            "announce",
            &word,
            "--tcp-port",
            &port,
        ];
        user.ok(&args);
    }
    let line = search_until_found(
        &user,
        &["--bootstrap", &udp, "--limit", "1000", "holiday"],
        &sd,
    );
    assert!(line.ends_with("holiday.jpg  peers 1"), "{line}");
    let out = user.ok(&["search", "--bootstrap", &udp, "--limit", "1000", "holiday"]);
    let fakes = out.lines().filter(|l| l.contains("holiday fake")).count();
    assert_eq!(
        fakes, 100,
        "the flood and the garbage give nothing; 350 streams are cut to 100:\n{out}"
    );
}

#[tokio::test]
async fn a_peer_s_bad_answer_is_a_clear_error() {
    use lbrymount::search::ask::{ask, AskError};
    let t = Duration::from_secs(2);
    let err = ask(fake_search_peer(Answer::Flood), "holiday", t).await;
    let msg = err.unwrap_err().to_string();
    assert_eq!(
        msg,
        "malformed answer: message reached 65536 bytes without being complete"
    );
    let err = ask(fake_search_peer(Answer::Garbage), "holiday", t).await;
    assert!(matches!(err, Err(AskError::Malformed(_))), "{err:?}");
    let err = ask(fake_search_peer(Answer::Silent), "holiday", t).await;
    assert_eq!(err.unwrap_err().to_string(), "no answer within 2 s");
    let got = ask(fake_search_peer(Answer::Many), "holiday", t)
        .await
        .unwrap();
    assert_eq!((got.hits.len(), got.skipped), (100, 250));
}

#[test]
fn search_results_read_through_the_mount_s_search_dir() {
    use common::mount::{assert_file_is, MountNode};
    let sharer = Node::new();
    let data = pseudo_random(3 * common::cli::CHUNK + 99, 5);
    let file = sharer.path("Holiday Movie.mkv");
    std::fs::write(&file, &data).unwrap();
    let sd = sharer.publish(&file);
    let (a, a_udp) = dht_node(&sharer, None);
    a.wait_log("announced");
    let (_b, b_udp) = dht_node(&Node::new(), Some(&a_udp));
    let reader = Node::new();
    let m = MountNode::start(
        &reader,
        &["--dht-listen", "127.0.0.1:0", "--bootstrap", &b_udp],
    );
    let dir = m.mountpoint.join(".search").join("holidya");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let want = format!("Holiday Movie.mkv {}", &sd[..8]);
    assert_eq!(
        names,
        vec![want.clone()],
        "one result, named with its short sd hash"
    );
    assert_file_is(&dir.join(&want).join("Holiday Movie.mkv"), &data);
    assert_eq!(
        std::fs::read_dir(m.mountpoint.join(".search/nothing-like-it"))
            .unwrap()
            .count(),
        0
    );
    let stopped = m.stop(libc::SIGTERM);
    assert!(
        stopped.status.success() && !stopped.still_mounted,
        "{}",
        stopped.log
    );
}

/// The words of the measured names, and each with one typo (a substitution,
/// a deletion, an insertion or a swap, at varying places).
const WORDS: [&str; 20] = [
    "sunset",
    "quarterly",
    "mountain",
    "birthday",
    "concert",
    "wedding",
    "garden",
    "holiday",
    "lecture",
    "recipe",
    "podcast",
    "interview",
    "tutorial",
    "festival",
    "painting",
    "marathon",
    "keynote",
    "symphony",
    "workshop",
    "documentary",
];

fn typo(word: &str, i: usize) -> String {
    let mut c: Vec<char> = word.chars().collect();
    let at = (i * 3) % (c.len() - 1);
    match i % 4 {
        0 => c[at] = if c[at] == 'x' { 'y' } else { 'x' },
        1 => {
            c.remove(at);
        }
        2 => c.insert(at, 'q'),
        _ => c.swap(at, at + 1),
    }
    c.into_iter().collect()
}

/// Prints search latency on a 20-node DHT on loopback (median, p90 over 20
/// queries through a running node) and the recall of 20 names searched with
/// one typo each. A measurement, not a check: run with `--ignored --nocapture`.
#[test]
#[ignore]
fn measure_latency_and_typo_recall_on_a_20_node_dht() {
    let mut nodes = Vec::new();
    let mut sds = Vec::new();
    let mut udp: Option<String> = None;
    for _ in WORDS {
        let n = Node::new();
        let (s, u) = dht_node(&n, udp.as_deref());
        udp.get_or_insert(u);
        nodes.push((n, s));
    }
    // Published once the network is whole, as the 12-hourly re-announce
    // leaves it: the records sit on the nodes closest to each key.
    for (i, (w, (n, s))) in WORDS.iter().zip(&nodes).enumerate() {
        let f = n.path(&format!("{w} {}.bin", 2000 + i));
        std::fs::write(&f, pseudo_random(100, i as u64)).unwrap();
        sds.push(n.publish(&f));
        s.wait_log_nth("announced", 2);
    }
    let seed = udp.unwrap();
    let searcher = Node::new();
    let (_s, _) = dht_node(&searcher, Some(&seed));
    let (mut times, mut found) = (Vec::new(), 0);
    for (i, w) in WORDS.iter().enumerate() {
        let t = Instant::now();
        let exact = searcher.ok(&["search", w]);
        times.push(t.elapsed());
        assert!(exact.contains(&sds[i]), "{w} not found exactly:\n{exact}");
        let q = typo(w, i);
        let out = searcher.ok(&["search", &q]);
        let hit = out.contains(&sds[i]);
        found += usize::from(hit);
        println!(
            "{w:>12} -> {q:<12} {}",
            if hit { "found" } else { "MISSED" }
        );
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "search latency over 20 queries on a 21-node DHT: median {:.0} ms, p90 {:.0} ms",
        ms(times[9]),
        ms(times[17])
    );
    println!("recall with one typo: {found}/20");
}
