//! Repository file decoders on arbitrary bytes, as a read of a damaged repository meets
//! them: a pack file (trailer and blobs), an index file, a sealed record file, and the JSON
//! inside records and stored structures. Each must refuse damage with a typed error, never
//! panic, and whatever it accepts must survive a round trip through its encoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtm_core::fuzzing;

fuzz_target!(|data: &[u8]| {
    let pack = fuzzing::pack_file(data);
    assert!(!pack.is_bug(), "pack file: {pack:?}");
    let index = fuzzing::index_file(data);
    assert!(!index.is_bug(), "index file: {index:?}");
    for (what, answer) in fuzzing::sealed_files(data)
        .into_iter()
        .chain(fuzzing::records(data))
    {
        assert!(!answer.is_bug(), "{what}: {answer:?}");
    }
});
