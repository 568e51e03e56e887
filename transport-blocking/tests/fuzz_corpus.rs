//! Replays the committed fuzz corpus of the HTTP/1.1 decoders
//! (`fuzz/corpus/http1_*/`) through the entry points the cargo-fuzz targets
//! call, on stable Rust.

use std::path::Path;

use lambda_sansio_blocking::http1::fuzz::TARGETS;

#[test]
fn every_corpus_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (name, target) in TARGETS {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut count = 0;
        for entry in entries {
            let path = entry.expect("readable corpus entry").path();
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", path.display());
            count += 1;
        }
        assert!(count > 0, "{name}: the corpus is empty");
    }
}
