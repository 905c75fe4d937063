//! Tabulates where descent's checkpoint reader and the reference reader (the
//! safetensors crate) disagree, over every file in the given directories
//! (e.g. the fuzzer's working corpus):
//!
//! ```text
//! cd fuzz && cargo run --example crate_diff -- target/corpus/checkpoint corpus/checkpoint
//! ```
//!
//! descent refuses on purpose some files the crate accepts (a tensor listed
//! twice, dtypes other than F32, non-finite values); it must never accept a
//! file the crate refuses (the parser runs the crate as a second check).
//! With `SHOW=1` set, each file refused only by that second check is listed
//! with the crate's message.

use std::collections::BTreeMap;
use std::path::Path;

use descent_train::checkpoint::{parse_checkpoint, CheckpointError, LoadOptions};
use descent_fuzz::checkpoint_variant;

fn main() {
    let mut table: BTreeMap<(bool, String), usize> = BTreeMap::new();
    let mut files = 0;
    for dir in std::env::args_os().skip(1) {
        for entry in std::fs::read_dir(&dir).expect("a readable directory") {
            let p = entry.unwrap().path();
            if !p.is_file() {
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            files += 1;
            let crate_ok = safetensors::SafeTensors::deserialize(&bytes).is_ok();
            let ours = parse_checkpoint(Path::new("f"), &bytes, LoadOptions::default());
            let ours: Result<(), &CheckpointError> = ours.as_ref().map(|_| ());
            let key = match ours {
                Ok(()) => "Ok".to_string(),
                Err(e) => checkpoint_variant(e).to_string(),
            };
            if let Err(e @ CheckpointError::Safetensors { .. }) = ours {
                if std::env::var_os("SHOW").is_some() {
                    println!("{}: {e}", p.display());
                }
            }
            if key == "Ok" && !crate_ok {
                eprintln!("descent accepted a file the crate refuses: {}", p.display());
            }
            *table.entry((crate_ok, key)).or_default() += 1;
        }
    }
    println!("{files} files");
    println!("{:<14} {:<20} {:>7}", "crate", "descent", "files");
    for ((crate_ok, ours), n) in table {
        let c = if crate_ok { "accepts" } else { "refuses" };
        println!("{c:<14} {ours:<20} {n:>7}");
    }
}
