//! A hub that lies or misbehaves is caught with a clear error, never
//! believed and never waited on past a deadline: the lies speak the real
//! encodings (tests/common/hub.rs).

mod common;

use common::cli::Node;
use common::hub::Lie;
use common::names::{bar_hub, fails, ok};
use std::time::{Duration, Instant};

#[test]
fn a_hub_that_failed_is_not_asked_again_at_once() {
    use lbrymount::hub::{HubConfig, NameError, Resolver};
    let bad = bar_hub();
    bad.set(|k| k.lie = Some(Lie::Garbage));
    let mut good = bar_hub();
    let resolver = Resolver::new(HubConfig::new(vec![bad.arg(), good.arg()], None));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(
            resolver.resolve("@bar/one").await.is_ok(),
            "the second hub answers"
        );
        assert_eq!(bad.calls().len(), 1);
        good.stop();
        let err = resolver.resolve("solo").await.unwrap_err();
        assert!(
            matches!(&err, NameError::NoHub(why) if why.contains("retried in")),
            "{err}"
        );
    });
    assert_eq!(bad.calls().len(), 1, "the failed hub was not asked again");
    let status = resolver.status();
    assert_eq!(status.in_use, None);
    assert!(status.last_error.is_some(), "{status:?}");
}

#[test]
fn a_transaction_that_does_not_hash_to_its_txid_is_caught() {
    let hub = bar_hub();
    hub.set(|k| k.lie = Some(Lie::WrongTx));
    let node = Node::new();
    let err = fails(&node, &["resolve", "--hub", &hub.arg(), "@bar/one"]);
    assert!(
        err.contains("untrusted") && err.contains(&hub.world().txid("one")),
        "{err}"
    );
}

#[test]
fn a_pointer_at_an_output_without_the_claim_is_caught() {
    let hub = bar_hub();
    hub.set(|k| k.lie = Some(Lie::NotAtNout));
    let node = Node::new();
    let err = fails(&node, &["resolve", "--hub", &hub.arg(), "solo"]);
    assert!(
        err.contains("untrusted") && err.contains("output 1"),
        "{err}"
    );
}

#[test]
fn another_claim_than_the_one_asked_for_is_caught() {
    let hub = bar_hub();
    hub.set(|k| k.lie = Some(Lie::OtherClaim));
    let node = Node::new();
    let err = fails(&node, &["resolve", "--hub", &hub.arg(), "two"]);
    assert!(
        err.contains("untrusted") && err.contains("named \"one\""),
        "{err}"
    );
}

#[test]
fn a_hub_that_never_answers_is_given_up_on_at_the_deadline() {
    let hub = bar_hub();
    hub.set(|k| k.lie = Some(Lie::Silent));
    let node = Node::new();
    let t = Instant::now();
    let err = fails(
        &node,
        &["resolve", "--timeout", "2", "--hub", &hub.arg(), "one"],
    );
    assert!(err.contains("within 2"), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "gave up at the deadline"
    );
}

#[test]
fn a_stream_with_a_forged_channel_signature_is_never_shown_under_the_channel() {
    let hub = bar_hub();
    let node = Node::new();
    let err = fails(&node, &["resolve", "--hub", &hub.arg(), "@bar/forged"]);
    assert!(err.contains("invalid channel signature"), "{err}");
    // By its bare name it resolves, without the channel.
    let out = ok(&node, &["resolve", "--json", "--hub", &hub.arg(), "forged"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["channel"].is_null(), "{v}");
    assert!(
        !v["canonical_url"].as_str().unwrap().contains("@bar"),
        "{v}"
    );
}

#[test]
fn oversized_and_garbage_replies_are_clear_errors() {
    let hub = bar_hub();
    let node = Node::new();
    for (lie, says) in [
        (Lie::Oversized, "reply line"),
        (Lie::Garbage, "not JSON"),
        (Lie::BadProtobuf, "malformed"),
    ] {
        hub.set(|k| k.lie = Some(lie));
        let err = fails(
            &node,
            &[
                "resolve",
                "--timeout",
                "20",
                "--hub",
                &hub.arg(),
                "@bar/one",
            ],
        );
        assert!(err.contains(says), "{lie:?}: {err}");
    }
}
