//! docs/protocol.md §2.6, every vector exactly.

use super::*;

/// docs/protocol.md §2.6 (a): the legacy-order sd blob from lbry-sdk's test suite.
const LEGACY_SD: &str = r#"{"stream_name": "4f62616d6120446f6e6b65792d322e73746c", "blobs": [{"length": 1153488, "blob_num": 0, "blob_hash": "9fa32a249ce3f2d4e46b78599800f368b72f2a7f22b81df443c7f6bdbef496bd61b4c0079c73d79c8bb9be9a6bf86592", "iv": "0bf348867244019c9e22196339016ea6"}, {"length": 0, "blob_num": 1, "iv": "9f36abae16955463919b07ed530a3d18"}], "stream_type": "lbryfile", "key": "a03742b87628aa7228e48f1dcd207e48", "suggested_file_name": "4f62616d6120446f6e6b65792d322e73746c", "stream_hash": "b43f4b1379780caf60d20aa06ac38fb144df61e514ebfa97537018ba73bce8fe37ae712f473ff0ba0be0eef44e160207"}"#;

#[test]
fn a_legacy_layout_parses_and_both_hashes_recompute() {
    assert_eq!(LEGACY_SD.len(), 577);
    let sd_hash: SdHash = "9313d1807551186126acc3662e74d9de29cede78d4f133349ace846273ef116b9bb86be86c54509eb84840e4b032f6b2".parse().unwrap();
    let sd = StreamDescriptor::parse_verified(LEGACY_SD.as_bytes(), &sd_hash).unwrap();
    assert_eq!(sd.sd_hash(), sd_hash);
    assert_eq!(sd.stream_hash(), "b43f4b1379780caf60d20aa06ac38fb144df61e514ebfa97537018ba73bce8fe37ae712f473ff0ba0be0eef44e160207");
    assert_eq!(sd.stream_name(), b"Obama Donkey-2.stl");
    assert_eq!(sd.file_name(), "Obama Donkey-2.stl");
    assert_eq!(sd.blobs().len(), 1);
    assert_eq!(sd.blobs()[0].length, 1_153_488);
    assert_eq!(sd.encrypted_size(), 1_153_488);
    assert_eq!(
        sd.terminator_iv(),
        *b"\x9f\x36\xab\xae\x16\x95\x54\x63\x91\x9b\x07\xed\x53\x0a\x3d\x18"
    );

    assert_eq!(sd.to_legacy_bytes(), LEGACY_SD.as_bytes());
    let current = sd.to_bytes();
    assert_eq!(current.len(), 577);
    assert_eq!(
        SdHash::digest(&current).to_hex(),
        "bc8bdaea2c88d74fca849c8ab6b83aa3a8fda5bf0af01b94210161554908b415bfddbef5e77d4eae52f4e71c03dd6fff"
    );
    // The current layout is a valid descriptor of the same stream.
    let again = StreamDescriptor::parse(&current).unwrap();
    assert_eq!(again.stream_hash(), sd.stream_hash());
    assert_eq!(again.blobs(), sd.blobs());
}

#[test]
fn b_aes256_new_layout_parses_and_reserializes_exactly() {
    assert_eq!(AES256_SD.len(), 764);
    let sd_hash: SdHash = "3e2706157a59aaa47ef52bc264fce488078b4026c0b9bab649a8f2fe1ecc5e5cad7182a2bb7722460f856831a1ac0f02".parse().unwrap();
    let sd = StreamDescriptor::parse_verified(AES256_SD.as_bytes(), &sd_hash).unwrap();
    assert_eq!(sd.key().as_bytes(), b"deadbeefdeadbeefdeadbeefdeadbeef");
    assert_eq!(sd.stream_name(), b"test_file");
    assert_eq!(sd.blobs().len(), 2);
    assert_eq!(sd.blobs()[1].blob_num, 1);
    assert_eq!(
        sd.blobs()[1].iv,
        <[u8; 16]>::try_from(hex::decode("df973fa64e73b4ff2677d682cdc32d3e").unwrap()).unwrap()
    );
    assert_eq!(sd.encrypted_size(), 2 * 2_097_152);
    assert_eq!(sd.to_bytes(), AES256_SD.as_bytes());
    assert_eq!(sd.sd_hash(), sd_hash);
}

#[test]
fn d_hello_txt_is_recreated_byte_for_byte() {
    let (sd, blobs) = create("hello.txt", b"hello lbry\n");
    assert_eq!(hex::encode(&blobs[0]), "a0e217e6e6cbd92729a80e1f23647d06");
    assert_eq!(
        sd.blobs()[0].hash.to_hex(),
        "772edb0f65efc2b4be39a6a80a9f5fea827487a5dd350670fa08a17246f09203ed283ca27e9fc09a7c496bae04971026"
    );
    assert_eq!(sd.stream_hash(), "a496d2fc18915c6259b19ef32ee576aa7e054fb3e7d8fadee1034f4b54d393703dff1ecfffaba83069f95c17f8ebe78f");
    assert_eq!(String::from_utf8(sd.to_bytes()).unwrap(), HELLO_SD);
    assert_eq!(sd.to_bytes().len(), 536);
    assert_eq!(sd.sd_hash().to_hex(), "8581c1b3afbf0ed1c7af5800ddd5103f3ec2fe705cc424b88b474c42796b8a52f4b67ebdec914b72229cd83ad8f4a613");
    assert_eq!(
        SdHash::digest(&sd.to_legacy_bytes()).to_hex(),
        "8f8bab49993866925dca63c3c78919a24c53b69ab82b697f398a3c67b53f827fc49c097a1caad2f6e07b91b61889ea2a"
    );
    assert_eq!(sd.terminator_iv(), [2; 16]);
    let parsed = StreamDescriptor::parse_verified(HELLO_SD.as_bytes(), &sd.sd_hash()).unwrap();
    assert_eq!(parsed, sd);
}

#[test]
fn d_exact_bin_is_one_full_blob() {
    let plain: Vec<u8> = (0..=255u8).cycle().take(PLAIN_CHUNK).collect();
    let (sd, blobs) = create("exact.bin", &plain);
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].len(), 2_097_152);
    assert_eq!(
        sd.blobs()[0].hash.to_hex(),
        "a369fe74e431ecb3a1d882b5d070739f504435f5ef258a8e5bd9105d7f4d322a05312e22ce5fb81e10dc2166b8ce2b44"
    );
    assert_eq!(sd.stream_hash(), "04fec4769b2463afc63106734f0ddbb68b4103bbb56133e8103f106b0cc83571b4c0441963772d18655e21ab89c05cd2");
    assert_eq!(sd.to_bytes().len(), 541);
    assert_eq!(sd.sd_hash().to_hex(), "dc31c6e891eea616a1318a23e42122e113499e368defad1f16f31a2b155171c2b01391bb1169a3f33fb0b0c72238e69d");
    assert_eq!(StreamDescriptor::parse(&sd.to_bytes()).unwrap(), sd);
}

#[test]
fn d_multi_bin_has_two_full_blobs_and_a_short_one() {
    let plain: Vec<u8> = (0..4_194_402u32)
        .map(|i| (7u32.wrapping_mul(i) + 3) as u8)
        .collect();
    let (sd, blobs) = create("multi.bin", &plain);
    let want = [
        (2_097_152, "88c5c5c9a163c5f87c337bab8a9b37ad3a9db5e83db1873afebf420a9f45b3211b311117d861f821226c07bbbc023bc2"),
        (2_097_152, "8eadb14eb31f49504a64f87b661f27de6ba5f56b4569038e62fe15c33e3961c8aa8b40420d4faf104a2183a38958d67a"),
        (112, "6774ad7896b11b85135710a42f3f2daefc13c40157dfc606cd7a1c2de8116c0b04994cfb387f1a97b9b98e6ea2c550a2"),
    ];
    assert_eq!(sd.blobs().len(), 3);
    for (i, (len, hash)) in want.iter().enumerate() {
        assert_eq!(blobs[i].len(), *len, "blob {i}");
        assert_eq!(sd.blobs()[i].length as usize, *len, "blob {i}");
        assert_eq!(sd.blobs()[i].hash.to_hex(), *hash, "blob {i}");
        assert_eq!(sd.blobs()[i].iv, [i as u8 + 1; 16], "blob {i}");
    }
    assert_eq!(sd.terminator_iv(), [4; 16]);
    assert_eq!(sd.stream_hash(), "ffbc7ca18212048b2f728132af15f1257a899984745b6ac5ebe9a497996c6e32dbd90b4b02921359866a73682f19c5a7");
    assert_eq!(sd.to_bytes().len(), 919);
    assert_eq!(sd.sd_hash().to_hex(), "eeebe32ee7ec5e0d808b254870c8a1377b8558eb0be9a6aed4be0b23040fe63839abc76eeef4cdfb00e1483d6a4c7ef5");
    assert_eq!(sd.encrypted_size(), 2 * 2_097_152 + 112);
    assert_eq!(StreamDescriptor::parse(&sd.to_bytes()).unwrap(), sd);
}

#[test]
fn an_empty_file_is_a_terminator_only_stream() {
    let (sd, blobs) = create("empty", b"");
    assert!(blobs.is_empty());
    assert!(sd.blobs().is_empty());
    assert_eq!(sd.encrypted_size(), 0);
    assert!(String::from_utf8(sd.to_bytes()).unwrap().starts_with(
        r#"{"blobs": [{"blob_num": 0, "iv": "01010101010101010101010101010101", "length": 0}], "key": "#
    ));
    assert_eq!(StreamDescriptor::parse(&sd.to_bytes()).unwrap(), sd);
    assert_eq!(
        StreamDescriptor::parse(&sd.to_legacy_bytes())
            .unwrap()
            .blobs(),
        &[]
    );
}

#[test]
fn new_sanitizes_the_suggested_name_but_not_the_stream_name() {
    let (sd, _) = create(" my:file?.txt ", b"x");
    assert_eq!(sd.stream_name(), b" my:file?.txt ");
    assert_eq!(sd.suggested_file_name(), b"myfile.txt");
    assert_eq!(sd.file_name(), "myfile.txt");
    let json = String::from_utf8(sd.to_bytes()).unwrap();
    assert!(json.contains(&format!(
        "\"stream_name\": \"{}\"",
        hex::encode(" my:file?.txt ")
    )));
    assert!(json.contains(&format!(
        "\"suggested_file_name\": \"{}\"",
        hex::encode("myfile.txt")
    )));
}

#[test]
fn debug_output_does_not_leak_the_key() {
    let sd = StreamDescriptor::parse(HELLO_SD.as_bytes()).unwrap();
    let dbg = format!("{sd:?}");
    assert!(!dbg.contains("000102030405060708090a0b0c0d0e0f"), "{dbg}");
    assert!(dbg.contains("hello.txt"), "{dbg}");
}
