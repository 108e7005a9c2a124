//! sha256 of files, streamed, with progress.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::ModelError;

/// Streams a file through sha256 and returns the lowercase hex digest.
pub fn sha256_file(path: &Path, progress: &indicatif::ProgressBar) -> Result<String, ModelError> {
    let mut file = File::open(path).map_err(ModelError::io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(ModelError::io(path))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        progress.inc(read as u64);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A writer that hashes what passes through it, so a copy is hashed without a second read.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
    progress: indicatif::ProgressBar,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps a writer; `progress` counts the bytes written.
    pub fn new(inner: W, progress: indicatif::ProgressBar) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
            progress,
        }
    }

    /// Returns the inner writer, the hex digest and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            hex::encode(self.hasher.finalize()),
            self.written,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.written += written as u64;
        self.progress.inc(written as u64);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
