//! Golden tests over the message corpus in `tests/corpus/` at the workspace root.
//!
//! Beside every `x.eml` is `x.json`: the expected `summarize()` output, the expected split
//! (part kinds and lengths) and the expected parsed view (without the summary, which is
//! checked separately, and without attachment bytes).
//!
//! `MTM_BLESS=1 cargo test -p mtm-core --test corpus` rewrites the goldens from the current
//! code; read every changed golden before committing it.

use std::path::{Path, PathBuf};

use mtm_core::{Summary, parse_view, split_message, summarize};
use serde_json::{Value, json};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("corpus")
}

fn eml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            eml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
}

/// What the code says about one message, in the golden file's shape.
fn actual(raw: &[u8]) -> Value {
    let parts = split_message(raw);
    let mut joined = Vec::with_capacity(raw.len());
    let mut pos = 0;
    for part in &parts {
        assert_eq!(part.range.start, pos, "parts are not contiguous");
        assert!(!part.range.is_empty(), "empty part");
        joined.extend_from_slice(&raw[part.range.clone()]);
        pos = part.range.end;
    }
    assert_eq!(
        joined, raw,
        "split parts do not concatenate to the original bytes"
    );

    let view = parse_view(raw);
    assert_eq!(
        view.summary,
        summarize(raw),
        "view summary differs from summarize()"
    );
    let mut view_json = serde_json::to_value(&view).expect("view serializes");
    if let Some(map) = view_json.as_object_mut() {
        map.remove("summary");
    }
    json!({
        "summary": serde_json::to_value(summarize(raw)).expect("summary serializes"),
        "split": parts
            .iter()
            .map(|p| json!({ "kind": p.kind, "len": p.range.len() }))
            .collect::<Vec<_>>(),
        "view": view_json,
    })
}

#[test]
fn corpus_matches_goldens() {
    let bless = std::env::var_os("MTM_BLESS").is_some_and(|v| v == "1");
    let mut files = Vec::new();
    eml_files(&corpus_dir(), &mut files);
    let mut failures = Vec::new();
    for eml in &files {
        let raw = std::fs::read(eml).expect("read eml");
        let got = actual(&raw);
        let golden_path = eml.with_extension("json");
        if bless {
            let text = serde_json::to_string_pretty(&got).expect("pretty json") + "\n";
            std::fs::write(&golden_path, text).expect("write golden");
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&golden_path) else {
            failures.push(format!("{}: golden missing", golden_path.display()));
            continue;
        };
        let want: Value = serde_json::from_str(&text).expect("golden is JSON");
        // The golden summary must also deserialize into the real type.
        let want_summary: Summary =
            serde_json::from_value(want["summary"].clone()).expect("golden summary");
        if want_summary != summarize(&raw) {
            failures.push(format!(
                "{}: summary\n  want {want_summary:?}\n  got  {:?}",
                eml.display(),
                summarize(&raw)
            ));
        }
        for key in ["split", "view"] {
            if want[key] != got[key] {
                failures.push(format!(
                    "{}: {key}\n  want {}\n  got  {}",
                    eml.display(),
                    want[key],
                    got[key]
                ));
            }
        }
    }
    assert!(
        files.len() > 20,
        "expected more than 20 corpus files, found {}",
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same large PDF, attached directly in one message and inside a forwarded message in
/// another (with different part headers and trace fields), is one identical stored part.
#[test]
fn forwarded_attachment_in_corpus_dedups() {
    let attachment = |name: &str| -> Vec<Vec<u8>> {
        let raw = std::fs::read(corpus_dir().join("multipart").join(name)).expect("read eml");
        split_message(&raw)
            .into_iter()
            .filter(|p| p.kind == mtm_core::PartKind::Attachment)
            .map(|p| raw[p.range].to_vec())
            .collect()
    };
    let direct = attachment("mixed-large-pdf.eml");
    assert_eq!(direct.len(), 1);
    assert_eq!(direct, attachment("forwarded-large.eml"));
}
