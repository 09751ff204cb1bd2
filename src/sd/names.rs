//! File names: lbry-sdk's sanitizer (writing) and a safe name (reading).

/// lbry-sdk's default when nothing of the name survives sanitizing.
pub const DEFAULT_FILE_NAME: &str = "lbry_download";

/// Longest file name most filesystems accept, in bytes.
const NAME_MAX: usize = 255;
/// Longest extension kept when a long name is shortened, dot included.
const EXT_KEEP_MAX: usize = 32;

/// lbry-sdk's `sanitize_file_name(name)`, which fills a new descriptor's
/// `suggested_file_name`; see [`sanitize_file_name_or`].
pub fn sanitize_file_name(dirty: &str) -> String {
    sanitize_file_name_or(dirty, DEFAULT_FILE_NAME)
}

/// lbry-sdk's `sanitize_file_name(name, default_file_name)`, reimplemented:
/// split off the extension like Python's `os.path.splitext`, delete every
/// match of `RE_ILLEGAL_FILENAME_CHARS` from each part, use `default` if the
/// stem came out empty, and keep the extension only if more than its dot
/// survived.
pub fn sanitize_file_name_or(dirty: &str, default: &str) -> String {
    let (stem, ext) = splitext(dirty);
    let mut name = strip_illegal(stem);
    let ext = strip_illegal(ext);
    if name.is_empty() {
        name = default.to_owned();
    }
    if ext.chars().count() > 1 {
        name.push_str(&ext);
    }
    name
}

/// Python's `posixpath.splitext`: the extension starts at the last dot of the
/// last path component, unless that component is only dots before it
/// (`.bashrc` has no extension).
fn splitext(p: &str) -> (&str, &str) {
    let base_start = p.rfind('/').map_or(0, |i| i + 1);
    match p.rfind('.') {
        Some(dot) if dot >= base_start && p[base_start..dot].bytes().any(|b| b != b'.') => {
            p.split_at(dot)
        }
        _ => (p, ""),
    }
}

/// `re.sub(RE_ILLEGAL_FILENAME_CHARS, '', s)`. The pattern's alternatives,
/// tried in order at each position, are:
/// 1. a run of `<>:"/\|?*`;
/// 2. a run of characters U+0000..=U+001F;
/// 3. `[ \t]*` then dots then `[ \t]*` at the end;
/// 4. `[ \t]+` at the start, or `[ \t]+` at the end;
/// 5. the whole string being `CON`, `PRN`, `AUX`, `NUL`, `COM1`..`COM9` or
///    `LPT1`..`LPT9` (case-sensitive).
///
/// "At the end" is Python's `$`: the end of the string or just before a
/// final `\n`; "at the start" is position 0 only.
fn strip_illegal(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let at_end = |j: usize| j == n || (j + 1 == n && chars.get(j) == Some(&'\n'));
    // The first position at or after `j` whose character is not in `class`.
    let skip = |j: usize, class: fn(char) -> bool| {
        j + chars.iter().skip(j).take_while(|&&c| class(c)).count()
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        // 1 and 2: runs of forbidden or control characters.
        if is_forbidden(c) {
            i = skip(i, is_forbidden);
            continue;
        }
        if is_c0(c) {
            i = skip(i, is_c0);
            continue;
        }
        // 3: blanks, dots, blanks, end.
        let dots_start = skip(i, is_blank);
        let dots_end = skip(dots_start, |c| c == '.');
        if dots_end > dots_start && at_end(skip(dots_end, is_blank)) {
            i = skip(dots_end, is_blank);
            continue;
        }
        // 4: leading or trailing blanks.
        let blanks_end = skip(i, is_blank);
        if blanks_end > i && (i == 0 || at_end(blanks_end)) {
            i = blanks_end;
            continue;
        }
        // 5: a reserved device name as the whole string.
        if let Some(len) = reserved_name_len(&chars).filter(|&len| i == 0 && at_end(len)) {
            i = len;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn is_forbidden(c: char) -> bool {
    matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*')
}

fn is_c0(c: char) -> bool {
    c <= '\u{1f}'
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The length of the reserved device name `chars` starts with, if any.
fn reserved_name_len(chars: &[char]) -> Option<usize> {
    let starts =
        |w: &str| chars.len() >= w.len() && chars.iter().zip(w.chars()).all(|(a, b)| *a == b);
    if ["CON", "PRN", "AUX", "NUL"].into_iter().any(starts) {
        return Some(3);
    }
    let numbered = ["COM", "LPT"].into_iter().any(starts);
    if numbered && matches!(chars.get(3), Some('1'..='9')) {
        return Some(4);
    }
    None
}

/// The rule of [`StreamDescriptor::file_name`](super::StreamDescriptor::file_name).
pub(super) fn safe_file_name(suggested: &[u8], stream_name: &[u8], stream_hash: &str) -> String {
    let raw = if suggested.is_empty() {
        stream_name
    } else {
        suggested
    };
    let name: String = String::from_utf8_lossy(raw)
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    let name = shorten(name);
    if name.is_empty() || name == "." || name == ".." {
        let prefix = stream_hash.get(..16).unwrap_or(stream_hash);
        return format!("lbry-{prefix}");
    }
    name
}

/// The rule of [`StreamDescriptor::download_name`](super::StreamDescriptor::download_name):
/// [`safe_file_name`] without its leading dots, so a sender cannot make
/// `get` write a hidden file (`.bashrc`, `.gitconfig`, `..` tricks).
pub(super) fn visible_file_name(suggested: &[u8], stream_name: &[u8], stream_hash: &str) -> String {
    let safe = safe_file_name(suggested, stream_name, stream_hash);
    let visible = safe.trim_start_matches('.');
    if visible.is_empty() {
        let prefix = stream_hash.get(..16).unwrap_or(stream_hash);
        return format!("lbry-{prefix}");
    }
    visible.to_owned()
}

/// At most `NAME_MAX` bytes, keeping a short extension.
fn shorten(name: String) -> String {
    if name.len() <= NAME_MAX {
        return name;
    }
    let ext_start = name
        .rfind('.')
        .filter(|&d| d > 0 && name.len() - d <= EXT_KEEP_MAX);
    match ext_start {
        Some(dot) => {
            let (stem, ext) = name.split_at(dot);
            let mut out = prefix_within(stem, NAME_MAX - ext.len()).to_owned();
            out.push_str(ext);
            out
        }
        None => prefix_within(&name, NAME_MAX).to_owned(),
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix_within(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lbry_sdk_test_vectors() {
        // lbry-sdk tests/unit/stream/test_stream_descriptor.py::test_sanitize_file_name
        assert_eq!(sanitize_file_name(" t/-?t|.g.ext "), "t-t.g.ext");
        assert_eq!(sanitize_file_name("end_dot ."), "end_dot");
        assert_eq!(sanitize_file_name(".file\0\0"), ".file");
        assert_eq!(sanitize_file_name("test n\x0eame.ext"), "test name.ext");
        assert_eq!(
            sanitize_file_name_or("COM8.ext", "default1"),
            "default1.ext"
        );
        assert_eq!(sanitize_file_name_or("LPT2", "default2"), "default2");
        assert_eq!(sanitize_file_name_or("", ""), "");
        assert_eq!(sanitize_file_name(""), "lbry_download");
    }

    #[test]
    fn edge_cases_match_cpython() {
        // Expected values computed with lbry-sdk's regex under CPython's `re`.
        let cases = [
            ("a.\n", "a"),
            ("CON\n", "lbry_download"),
            ("CON.txt", "lbry_download.txt"),
            ("com1", "com1"),
            ("COM0", "COM0"),
            (" \t.", "lbry_download"),
            ("x. .", "x"),
            ("...", "lbry_download"),
            (".bashrc", ".bashrc"),
            ("..txt", "..txt"),
            ("a/b.c", "ab.c"),
            ("a.b/c", "a.bc"),
            ("a .b", "a.b"),
            ("tab\there.txt", "tabhere.txt"),
            ("name.\t", "name"),
            ("  lead", "lead"),
            ("trail \t", "trail"),
            ("x.tar.gz", "x.tar.gz"),
            ("x. ", "x"),
            ("x.é", "x.é"),
            ("héllo wörld.mp4", "héllo wörld.mp4"),
            ("😀.png", "😀.png"),
            ("a?b*c|d", "abcd"),
            ("LPT9 ", "LPT9"),
            (" NUL", "NUL"),
        ];
        for (dirty, clean) in cases {
            assert_eq!(sanitize_file_name(dirty), clean, "{dirty:?}");
        }
    }

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn safe_name_prefers_suggested_then_stream_name() {
        assert_eq!(safe_file_name(b"a.txt", b"b.txt", HASH), "a.txt");
        assert_eq!(safe_file_name(b"", b"b.txt", HASH), "b.txt");
    }

    #[test]
    fn safe_name_replaces_slashes_and_control_characters() {
        assert_eq!(
            safe_file_name(b"../../etc/passwd", b"", HASH),
            ".._.._etc_passwd"
        );
        assert_eq!(safe_file_name(b"a\0b\nc\x7f", b"", HASH), "a_b_c_");
        assert_eq!(safe_file_name(b"/", b"", HASH), "_");
    }

    #[test]
    fn safe_name_falls_back_to_the_stream_hash() {
        for bad in [&b""[..], b".", b".."] {
            assert_eq!(safe_file_name(bad, b"", HASH), "lbry-0123456789abcdef");
        }
        assert_eq!(safe_file_name(b"", b"..", HASH), "lbry-0123456789abcdef");
        assert_eq!(safe_file_name(b"...", b"", HASH), "...");
    }

    #[test]
    fn safe_name_repairs_invalid_utf8() {
        assert_eq!(safe_file_name(b"caf\xe9.txt", b"", HASH), "caf\u{fffd}.txt");
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary_keeping_the_extension() {
        let long = format!("{}.mkv", "é".repeat(200));
        let got = safe_file_name(long.as_bytes(), b"", HASH);
        assert!(got.len() <= 255 && got.ends_with("é.mkv"), "{got}");
        assert_eq!(got.len(), 254); // 125 two-byte characters, then ".mkv"
        let no_ext = "x".repeat(300);
        assert_eq!(
            safe_file_name(no_ext.as_bytes(), b"", HASH),
            "x".repeat(255)
        );
        let long_ext = format!("a.{}", "y".repeat(300));
        assert_eq!(safe_file_name(long_ext.as_bytes(), b"", HASH).len(), 255);
        let exactly = "z".repeat(255);
        assert_eq!(safe_file_name(exactly.as_bytes(), b"", HASH), exactly);
    }

    #[test]
    fn download_names_are_never_hidden() {
        assert_eq!(visible_file_name(b".bashrc", b"", HASH), "bashrc");
        assert_eq!(visible_file_name(b"../x", b"", HASH), "_x");
        assert_eq!(visible_file_name(b"a/b", b"", HASH), "a_b");
        assert_eq!(
            visible_file_name(b"...", b"", HASH),
            "lbry-0123456789abcdef"
        );
        assert_eq!(visible_file_name(b"a.txt", b"", HASH), "a.txt");
    }

    proptest! {
        #[test]
        fn download_name_is_always_visible(suggested in proptest::collection::vec(any::<u8>(), 0..600)) {
            let got = visible_file_name(&suggested, b"", HASH);
            prop_assert!(!got.is_empty() && got.len() <= 255 && !got.starts_with('.'));
            prop_assert!(!got.contains('/') && !got.contains('\0'));
        }

        #[test]
        fn safe_name_is_always_safe(suggested in proptest::collection::vec(any::<u8>(), 0..600),
                                    name in proptest::collection::vec(any::<u8>(), 0..20)) {
            let got = safe_file_name(&suggested, &name, HASH);
            prop_assert!(!got.is_empty() && got.len() <= 255);
            prop_assert!(got != "." && got != "..");
            prop_assert!(!got.contains('/') && !got.contains('\0'));
        }

        #[test]
        fn sanitized_names_have_no_forbidden_characters(dirty in "\\PC{0,40}") {
            let clean = sanitize_file_name(&dirty);
            prop_assert!(!clean.is_empty());
            prop_assert!(!clean.chars().any(|c| is_forbidden(c) || is_c0(c)), "{:?}", clean);
        }
    }
}
